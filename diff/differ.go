package diff

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/managedfields"

	"github.com/converge-dev/converge/object"
)

// Schemas gives the type converter for a kind, built from the API server's
// OpenAPI schema; ctx bounds the requests that may take. *cluster.Client
// satisfies it.
type Schemas interface {
	TypeConverter(ctx context.Context, gvk schema.GroupVersionKind) (managedfields.TypeConverter, error)
}

// SchemasFunc adapts a function to [Schemas].
type SchemasFunc func(ctx context.Context, gvk schema.GroupVersionKind) (managedfields.TypeConverter, error)

// TypeConverter calls f.
func (f SchemasFunc) TypeConverter(ctx context.Context, gvk schema.GroupVersionKind) (managedfields.TypeConverter, error) {
	return f(ctx, gvk)
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
// or the live resourceVersion changes. What the Differ caches is bounded
// by the objects and kinds it sees.
type Differ struct {
	schemas      Schemas
	manager      string
	receipts     Receipts
	dryRun       DryRunner
	rules        []IgnoreRule
	defaultRules bool
	compiled     []compiledRule
	norm         normalizer

	// deduced stands in for the schema of kinds the API server publishes
	// none for. One per Differ, so that its field managers are cached too.
	deduced managedfields.TypeConverter

	mu sync.Mutex
	// managers holds one field manager per kind, for the type converter it
	// was built with. A converter replaced by a newer one (the cluster
	// client drops its converters when CRDs change) replaces the entry, so
	// the map stays as large as the set of kinds.
	managers map[schema.GroupVersionKind]*fieldManager
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
// the API server stores them. By default the Differ knows the stable
// versions of the built-in groups whose kinds hosts apply (apps/v1,
// batch/v1, core/v1, rbac/v1, networking/v1, admissionregistration/v1,
// autoscaling/v1 and v2, policy/v1, storage/v1, ...); other kinds are
// compared on their schema alone, as custom resources are. A host that
// applies beta kinds can pass client-go's scheme.Scheme.
func WithScheme(s *runtime.Scheme) Option { return func(d *Differ) { d.norm.scheme = s } }

// New returns a Differ. It fails on ignore rules that do not parse.
func New(schemas Schemas, opts ...Option) (*Differ, error) {
	d := &Differ{
		schemas:      schemas,
		manager:      object.FieldManager,
		receipts:     &MemoryReceipts{},
		defaultRules: true,
		deduced:      managedfields.NewDeducedTypeConverter(),
		managers:     map[schema.GroupVersionKind]*fieldManager{},
		verdicts:     map[verdictKey]*Result{},
		mutated:      map[object.ID]bool{},
		verified:     map[object.ID]verifiedLive{},
	}
	for _, o := range opts {
		o(d)
	}
	if d.norm.scheme == nil {
		s, err := newScheme()
		if err != nil {
			return nil, fmt.Errorf("diff: build the scheme: %w", err)
		}
		d.norm.scheme = s
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
	res, err := d.local(ctx, id, desired, live)
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
func (d *Differ) Record(ctx context.Context, desired, applied *unstructured.Unstructured) error {
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
		if res, err = d.local(ctx, id, desired, applied); err != nil {
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
	text, err := Unified(nil, desired, UnifiedOptions{From: "live/" + id.String(), To: "desired/" + id.String()})
	if err != nil {
		return nil, d.wrap(id, err)
	}
	return &Result{ID: id, Action: Create, Method: ByLocalMerge, Diff: text}, nil
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
	fm, err := d.fieldManager(ctx, desired.GroupVersionKind())
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

func (d *Differ) fieldManager(ctx context.Context, gvk schema.GroupVersionKind) (*fieldManager, error) {
	tc, err := d.schemas.TypeConverter(ctx, gvk)
	deduced := false
	if err != nil || tc == nil {
		tc, deduced = d.deduced, true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if fm, ok := d.managers[gvk]; ok && fm.converter == tc {
		return fm, nil
	}
	fm, err := newFieldManager(tc, gvk, deduced)
	if err != nil {
		return nil, err
	}
	d.managers[gvk] = fm
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
