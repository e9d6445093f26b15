package diff

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/managedfields"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/typed"

	"github.com/converge-dev/converge/object"
)

// Schemas gives the type converter for a kind, built from the API server's
// OpenAPI schema. *cluster.Client satisfies it.
type Schemas interface {
	TypeConverter(gvk schema.GroupVersionKind) (managedfields.TypeConverter, error)
}

// SchemasFunc adapts a function to [Schemas].
type SchemasFunc func(gvk schema.GroupVersionKind) (managedfields.TypeConverter, error)

func (f SchemasFunc) TypeConverter(gvk schema.GroupVersionKind) (managedfields.TypeConverter, error) {
	return f(gvk)
}

var _ Schemas = SchemasFunc(nil)

// DryRunner asks the API server what an apply would store, writing
// nothing. *cluster.Client satisfies it.
type DryRunner interface {
	DryRunApply(ctx context.Context, obj *unstructured.Unstructured, fieldManager string) (*unstructured.Unstructured, error)
}

// DryRunnerFunc adapts a function to [DryRunner].
type DryRunnerFunc func(ctx context.Context, obj *unstructured.Unstructured, fieldManager string) (*unstructured.Unstructured, error)

func (f DryRunnerFunc) DryRunApply(ctx context.Context, obj *unstructured.Unstructured, fieldManager string) (*unstructured.Unstructured, error) {
	return f(ctx, obj, fieldManager)
}

var _ DryRunner = DryRunnerFunc(nil)

// Differ compares desired objects with live ones under server-side-apply
// semantics for one field manager. It is safe for concurrent use.
//
// A verdict costs, in order of preference: nothing (an apply receipt
// matches), CPU only (a local merge with the API server's own field
// manager), or one dry-run request when the local merge is uncertain and a
// DryRunner is set, whose verdict is then cached until the desired object
// or the live resourceVersion changes.
type Differ struct {
	schemas      Schemas
	manager      string
	receipts     Receipts
	dryRun       DryRunner
	rules        []IgnoreRule
	defaultRules bool
	compiled     []compiledRule
	norm         normalizer

	mu       sync.Mutex
	managers map[managerKey]*fieldManager
	verdicts map[verdictKey]*Result
	// verified remembers, per object, the live object (by pointer) and the
	// desired hash last found in sync. A watch cache hands out the same
	// pointer until the object changes, so the steady state skips even the
	// receipt comparison.
	verified map[object.ID]verifiedLive
	// mutated holds objects whose last apply the server stored differently
	// from the local merge's prediction (a mutating webhook, defaulting of
	// list keys): their local verdicts cannot be trusted.
	mutated map[object.ID]bool
}

type managerKey struct {
	gvk       schema.GroupVersionKind
	converter managedfields.TypeConverter
}

type verifiedLive struct {
	live *unstructured.Unstructured
	hash string
}

type verdictKey struct {
	desiredHash     string
	uid             types.UID
	resourceVersion string
}

// maxVerdicts bounds the dry-run verdict cache; past it the cache starts
// over, which costs at most one dry-run per uncertain object.
const maxVerdicts = 100_000

// Option configures [New].
type Option func(*Differ)

// WithFieldManager sets the field manager; object.FieldManager by default.
func WithFieldManager(name string) Option { return func(d *Differ) { d.manager = name } }

// WithReceipts sets where apply receipts are kept; a fresh MemoryReceipts
// by default.
func WithReceipts(r Receipts) Option { return func(d *Differ) { d.receipts = r } }

// WithDryRun sets the fallback for uncertain verdicts. Without one, an
// uncertain verdict is returned as is, with Uncertain set.
func WithDryRun(r DryRunner) Option { return func(d *Differ) { d.dryRun = r } }

// WithIgnoreRules adds ignore rules.
func WithIgnoreRules(rules ...IgnoreRule) Option {
	return func(d *Differ) { d.rules = append(d.rules, rules...) }
}

// WithoutDefaultIgnoreRules drops [DefaultIgnoreRules].
func WithoutDefaultIgnoreRules() Option { return func(d *Differ) { d.defaultRules = false } }

// WithScheme sets the Go types used to normalize built-in objects the way
// the API server stores them; client-go's built-in types by default.
func WithScheme(s *runtime.Scheme) Option { return func(d *Differ) { d.norm.scheme = s } }

// New returns a Differ. It fails only on ignore rules that do not parse.
func New(schemas Schemas, opts ...Option) (*Differ, error) {
	d := &Differ{
		schemas:      schemas,
		manager:      object.FieldManager,
		receipts:     &MemoryReceipts{},
		defaultRules: true,
		managers:     map[managerKey]*fieldManager{},
		verdicts:     map[verdictKey]*Result{},
		mutated:      map[object.ID]bool{},
		verified:     map[object.ID]verifiedLive{},
	}
	for _, o := range opts {
		o(d)
	}
	if d.norm.scheme == nil {
		d.norm.scheme = runtime.NewScheme()
		if err := clientgoscheme.AddToScheme(d.norm.scheme); err != nil {
			return nil, err
		}
	}
	rules := d.rules
	if d.defaultRules {
		rules = append(DefaultIgnoreRules(), rules...)
	}
	var err error
	if d.compiled, err = compileRules(rules); err != nil {
		return nil, err
	}
	return d, nil
}

// Diff returns what applying desired would do to live (nil when the object
// does not exist). Neither object is modified. Errors name the object and
// never carry a Secret's values.
func (d *Differ) Diff(ctx context.Context, desired, live *unstructured.Unstructured) (*Result, error) {
	id := object.IDOf(desired)
	if live == nil {
		return d.create(id, desired)
	}
	hash, err := Hash(desired)
	if err != nil {
		return nil, d.wrap(id, err)
	}
	d.mu.Lock()
	v, seen := d.verified[id]
	d.mu.Unlock()
	if seen && v.live == live && v.hash == hash {
		return &Result{ID: id, Action: Unchanged, Method: ByReceipt}, nil
	}
	if r, ok := d.receipts.Get(id); ok && r.matches(live, hash, d.manager) {
		d.remember(id, live, hash)
		return &Result{ID: id, Action: Unchanged, Method: ByReceipt}, nil
	}
	res, err := d.local(id, desired, live)
	if err != nil {
		return nil, d.wrap(id, err)
	}
	d.mu.Lock()
	mutated := d.mutated[id]
	d.mu.Unlock()
	if mutated && !res.Uncertain {
		res.Uncertain = true
		res.Reason = "the API server changed this object beyond the local merge on its last apply (a mutating webhook or defaulting)"
	}
	if res.Uncertain && d.dryRun != nil {
		if res, err = d.settle(ctx, id, desired, live, hash, res); err != nil {
			return nil, d.wrap(id, err)
		}
	}
	if res.Action == Unchanged {
		if r, ok := NewReceipt(hash, live, d.manager); ok {
			d.receipts.Put(id, r)
			d.remember(id, live, hash)
		}
	}
	return res, nil
}

func (d *Differ) remember(id object.ID, live *unstructured.Unstructured, hash string) {
	d.mu.Lock()
	d.verified[id] = verifiedLive{live: live, hash: hash}
	d.mu.Unlock()
}

// Record keeps a receipt for an object converge just applied: desired as
// sent, applied as the API server returned it. It also checks the server's
// answer against a local merge: when they differ (a mutating webhook, or
// defaulting the local merge cannot know), later local verdicts for the
// object are marked uncertain, so a dry-run settles them.
func (d *Differ) Record(desired, applied *unstructured.Unstructured) error {
	id := object.IDOf(desired)
	hash, err := Hash(desired)
	if err != nil {
		return d.wrap(id, err)
	}
	if r, ok := NewReceipt(hash, applied, d.manager); ok {
		d.receipts.Put(id, r)
	}
	// When the server stored every value desired sets exactly as sent,
	// merging desired again changes nothing: no need for the local merge,
	// which costs as much as the rest of an apply on the client.
	res := &Result{ID: id, Action: Unchanged}
	if !storedAsSent(desired.Object, applied.Object) {
		if res, err = d.local(id, desired, applied); err != nil {
			return d.wrap(id, err)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.verified, id)
	if res.Action != Unchanged {
		d.mutated[id] = true
	} else {
		delete(d.mutated, id)
	}
	return nil
}

// Forget drops what the Differ knows of an object, after it was deleted.
func (d *Differ) Forget(id object.ID) {
	d.receipts.Delete(id)
	d.mu.Lock()
	delete(d.mutated, id)
	delete(d.verified, id)
	d.mu.Unlock()
}

func (d *Differ) create(id object.ID, desired *unstructured.Unstructured) (*Result, error) {
	after := desired.DeepCopy()
	if desired.GroupVersionKind() == gvkSecret {
		maskSecrets(nil, after)
	}
	text, err := unifiedDiff(id, nil, after)
	if err != nil {
		return nil, d.wrap(id, err)
	}
	return &Result{ID: id, Action: Create, Method: ByLocalMerge, Diff: text}, nil
}

// local merges desired into live with the API server's field manager and
// compares the result with live.
func (d *Differ) local(id object.ID, desired, live *unstructured.Unstructured) (*Result, error) {
	fm, err := d.fieldManager(desired.GroupVersionKind())
	if err != nil {
		return nil, err
	}
	merged, err := fm.apply(live, desired, d.manager, true)
	if err != nil {
		return nil, err
	}
	res, err := d.compare(id, fm, live, merged)
	if err != nil {
		return nil, err
	}
	res.Method = ByLocalMerge
	if fm.deduced && !res.Uncertain {
		res.Uncertain, res.Reason = true, "the API server publishes no schema for this kind"
	}
	if res.Action == Update && len(res.Paths) > 0 {
		conflicts, err := fm.conflicts(live, desired, d.manager)
		if err != nil {
			return nil, err
		}
		ignored := ignoredManagers(d.compiled, id)
		for _, c := range conflicts {
			if !slices.Contains(ignored, c.Manager) {
				res.Conflicts = append(res.Conflicts, c)
			}
		}
	}
	return res, nil
}

// compare says how after (a merge result or a dry-run answer) differs from
// live, after normalization and ignore rules.
func (d *Differ) compare(id object.ID, fm *fieldManager, live, after *unstructured.Unstructured) (*Result, error) {
	res := &Result{ID: id, Action: Unchanged}
	liveN, exact1 := d.norm.normalize(live)
	afterN, exact2 := d.norm.normalize(after)
	if !exact1 || !exact2 {
		res.Uncertain, res.Reason = true, "the object does not decode into its built-in type"
	}
	// The rules edit copies: the whole normalized objects are needed again
	// when only ownership differs.
	liveR, afterR := liveN.DeepCopy(), afterN.DeepCopy()
	applyRules(d.compiled, id, liveR, afterR)
	tvLive, err := fm.converter.ObjectToTyped(liveR, typed.AllowDuplicates)
	if err != nil {
		return nil, fmt.Errorf("read live object: %w", err)
	}
	tvAfter, err := fm.converter.ObjectToTyped(afterR, typed.AllowDuplicates)
	if err != nil {
		return nil, fmt.Errorf("read desired object: %w", err)
	}
	var owned *fieldpath.Set
	if managers := ignoredManagers(d.compiled, id); len(managers) > 0 {
		if owned, err = managersSet(live, managers); err != nil {
			return nil, err
		}
		tvLive, tvAfter = tvLive.RemoveItems(owned), tvAfter.RemoveItems(owned)
	}
	cmp, err := tvLive.Compare(tvAfter)
	if err != nil {
		return nil, fmt.Errorf("compare: %w", err)
	}
	if !cmp.IsSame() {
		res.Action = Update
		changed := cmp.Added.Union(cmp.Modified).Union(cmp.Removed)
		changed.Iterate(func(p fieldpath.Path) { res.Paths = append(res.Paths, p.String()) })
		slices.Sort(res.Paths)
		if res.Diff, err = d.render(id, fm, tvLive, tvAfter); err != nil {
			return nil, err
		}
		return res, nil
	}
	// Same values: the apply still writes when the managedFields
	// bookkeeping changes: converge takes back fields another manager took
	// (ownership is what makes receipts exact), or entries that share a
	// timestamp second are re-sorted. The server ignores timestamp-only
	// changes, so times are left out.
	if sameManagedFields(live, after) {
		return res, nil
	}
	same, err := d.ownershipHidden(fm, live, after, liveN, afterN, tvLive, tvAfter, owned)
	if err != nil {
		return nil, err
	}
	if !same {
		res.Action = Update
		res.Uncertain = true
		res.Reason = "only managedFields would change: converge would take back fields set to the same values, or the server defaults keys of list items"
	}
	return res, nil
}

// ownershipHidden reports whether the ownership change between live and
// after lies only in fields ignore rules hide (fields the rules removed
// from the whole normalized objects, and fields ignored managers own).
func (d *Differ) ownershipHidden(fm *fieldManager, live, after, liveN, afterN *unstructured.Unstructured,
	tvLive, tvAfter *typed.TypedValue, owned *fieldpath.Set) (bool, error) {
	ignored := &fieldpath.Set{}
	for _, pair := range []struct {
		whole *unstructured.Unstructured
		kept  *typed.TypedValue
	}{{liveN, tvLive}, {afterN, tvAfter}} {
		all, err := fm.converter.ObjectToTyped(pair.whole, typed.AllowDuplicates)
		if err != nil {
			return false, err
		}
		removed, err := removedFields(all, pair.kept)
		if err != nil {
			return false, err
		}
		ignored = ignored.Union(removed)
	}
	if owned != nil {
		ignored = ignored.Union(owned)
	}
	before, err := managedSet(live, d.manager)
	if err != nil {
		return false, err
	}
	now, err := managedSet(after, d.manager)
	if err != nil {
		return false, err
	}
	if before.Union(now).Intersection(ignored).Empty() {
		return false, nil // the rules hide none of converge's fields
	}
	return before.Difference(ignored).Equals(now.Difference(ignored)), nil
}

// removedFields returns the fields of all that rules removed to get kept.
func removedFields(all, kept *typed.TypedValue) (*fieldpath.Set, error) {
	a, err := all.ToFieldSet()
	if err != nil {
		return nil, err
	}
	k, err := kept.ToFieldSet()
	if err != nil {
		return nil, err
	}
	return a.Difference(k), nil
}

func sameManagedFields(a, b *unstructured.Unstructured) bool {
	ea, eb := a.GetManagedFields(), b.GetManagedFields()
	if len(ea) != len(eb) {
		return false
	}
	for i := range ea {
		ea[i].Time, eb[i].Time = nil, nil
	}
	return reflect.DeepEqual(ea, eb)
}

// render produces the masked unified diff of two typed values.
func (d *Differ) render(id object.ID, fm *fieldManager, before, after *typed.TypedValue) (string, error) {
	b, err := fm.converter.TypedToObject(before)
	if err != nil {
		return "", err
	}
	a, err := fm.converter.TypedToObject(after)
	if err != nil {
		return "", err
	}
	bu, ok1 := b.(*unstructured.Unstructured)
	au, ok2 := a.(*unstructured.Unstructured)
	if !ok1 || !ok2 {
		return "", fmt.Errorf("type converter returned %T and %T", b, a)
	}
	if id.Group == "" && id.Kind == "Secret" {
		maskSecrets(bu, au)
	}
	return unifiedDiff(id, bu, au)
}

// settle asks the API server through a dry-run apply, once per desired
// hash and live resourceVersion.
func (d *Differ) settle(ctx context.Context, id object.ID, desired, live *unstructured.Unstructured, hash string, local *Result) (*Result, error) {
	key := verdictKey{desiredHash: hash, uid: live.GetUID(), resourceVersion: live.GetResourceVersion()}
	d.mu.Lock()
	cached, ok := d.verdicts[key]
	d.mu.Unlock()
	if ok {
		return cached, nil
	}
	after, err := d.dryRun.DryRunApply(ctx, desired, d.manager)
	if err != nil {
		return nil, fmt.Errorf("dry-run apply: %w", err)
	}
	fm, err := d.fieldManager(desired.GroupVersionKind())
	if err != nil {
		return nil, err
	}
	res, err := d.compare(id, fm, live, after)
	if err != nil {
		return nil, err
	}
	res.Method, res.Uncertain, res.Reason = ByDryRun, false, ""
	res.Conflicts = local.Conflicts
	d.mu.Lock()
	if len(d.verdicts) >= maxVerdicts {
		d.verdicts = map[verdictKey]*Result{}
	}
	d.verdicts[key] = res
	d.mu.Unlock()
	return res, nil
}

func (d *Differ) fieldManager(gvk schema.GroupVersionKind) (*fieldManager, error) {
	tc, err := d.schemas.TypeConverter(gvk)
	deduced := false
	if err != nil || tc == nil {
		tc, deduced = managedfields.NewDeducedTypeConverter(), true
	}
	key := managerKey{gvk: gvk, converter: tc}
	d.mu.Lock()
	defer d.mu.Unlock()
	if fm, ok := d.managers[key]; ok {
		return fm, nil
	}
	fm, err := newFieldManager(tc, gvk, deduced)
	if err != nil {
		return nil, err
	}
	d.managers[key] = fm
	return fm, nil
}

// errSecretDetail replaces error details for Secrets: a schema error can
// quote the offending value.
var errSecretDetail = errors.New("the Secret does not match its schema (details withheld: they may contain secret values)")

func (d *Differ) wrap(id object.ID, err error) error {
	if id.Group == "" && id.Kind == "Secret" {
		return fmt.Errorf("diff %s: %w", id, errSecretDetail)
	}
	return fmt.Errorf("diff %s: %w", id, err)
}

// storedAsSent reports whether every value in sent appears, unchanged and
// of the same type, at the same place in stored: maps may hold more keys,
// lists must have the same length. It is a sufficient test only: any
// difference, even one normalization would explain (a quantity written
// another way, stringData moved to data), answers false and leaves the
// verdict to the local merge.
func storedAsSent(sent, stored any) bool {
	switch s := sent.(type) {
	case map[string]any:
		m, ok := stored.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range s {
			sv, found := m[k]
			if !found {
				if v == nil {
					continue // a null the server drops
				}
				return false
			}
			if !storedAsSent(v, sv) {
				return false
			}
		}
		return true
	case []any:
		l, ok := stored.([]any)
		if !ok || len(l) != len(s) {
			return false
		}
		for i := range s {
			if !storedAsSent(s[i], l[i]) {
				return false
			}
		}
		return true
	case string, bool, int64, float64, nil:
		return sent == stored
	default:
		return false
	}
}
