package apply

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"runtime"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/diff"
	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/object"
)

// Owner names the unit being reconciled (an application, an environment).
// Its name goes into a label on every applied object, so it must be a valid
// label value and a valid object name segment: lower-case letters, digits
// and '-', at most 54 characters (the inventory's name adds a prefix).
type Owner struct {
	Name string
	// Namespace is the namespace of the unit, when it has one (the
	// namespace of the host's own resource); it is a label too, and where
	// the default inventory is kept ("default" when empty).
	Namespace string
	// Source identifies where the owner's desired state comes from, such
	// as a repository URL without credentials. When set it is recorded on
	// every applied object (object.AnnotationSource), and a prune refuses
	// to delete objects last applied from another source: two units that
	// were given the same owner name by mistake then fail loudly instead
	// of pruning each other's objects. It must not hold credentials.
	Source string
}

// Labels returns the ownership labels the Applier puts on objects.
func (o Owner) Labels() map[string]string {
	l := map[string]string{object.LabelOwner: o.Name}
	if o.Namespace != "" {
		l[object.LabelOwnerNamespace] = o.Namespace
	}
	return l
}

// Applier applies sets of objects for one owner. It is safe for concurrent
// use, but calls for the same owner should not overlap: each reads and
// replaces the owner's inventory.
type Applier struct {
	client    *cluster.Client
	cache     *cluster.Cache
	ownCache  bool
	differ    *diff.Differ
	inventory Inventory
	checker   health.Checker
	policy    Policy
	manager   string
	owner     Owner
	log       logr.Logger

	mu        sync.Mutex
	takenOver map[types.UID]bool // objects already moved from kubectl's managers
}

// Option configures New.
type Option func(*Applier)

// WithCache makes the Applier read live objects through cache, shared with
// the host and with the other Appliers on the same cluster. Build it with
// [CacheOptions]: New refuses a cache that does not hold every owner's
// objects, since the Applier could not tell then that an object belongs
// to another owner. By default the Applier starts its own such cache, and
// Close stops it.
func WithCache(c *cluster.Cache) Option { return func(a *Applier) { a.cache = c } }

// WithDiffer sets the Differ, for hosts that configure ignore rules or keep
// receipts across restarts. Its field manager must be the Applier's.
func WithDiffer(d *diff.Differ) Option { return func(a *Applier) { a.differ = d } }

// WithInventory sets where the owner's inventory is kept. By default it is
// the ConfigMap "converge-<owner>" in the owner's namespace.
func WithInventory(inv Inventory) Option { return func(a *Applier) { a.inventory = inv } }

// WithHealthChecker sets the checker used for hooks and Options.Wait; by
// default health.New() with the built-in rules.
func WithHealthChecker(c health.Checker) Option { return func(a *Applier) { a.checker = c } }

// WithPolicy sets a policy that can refuse a set before anything is written.
// A refusal wraps both ErrRefused and the policy's own error, so that a host
// can tell its policy's refusals apart with errors.Is and errors.As.
func WithPolicy(p Policy) Option { return func(a *Applier) { a.policy = p } }

// WithFieldManager changes the server-side apply field manager, object.FieldManager
// by default.
func WithFieldManager(name string) Option { return func(a *Applier) { a.manager = name } }

// WithLogger sets the logger; logs are discarded by default.
func WithLogger(l logr.Logger) Option { return func(a *Applier) { a.log = l } }

// New returns an Applier for owner on the cluster c.
func New(c *cluster.Client, owner Owner, opts ...Option) (*Applier, error) {
	if c == nil {
		return nil, errors.New("apply: nil cluster client")
	}
	if err := validateOwner(owner); err != nil {
		return nil, err
	}
	a := &Applier{client: c, owner: owner, manager: object.FieldManager, log: logr.Discard()}
	for _, o := range opts {
		o(a)
	}
	switch {
	case a.cache == nil:
		a.cache = cluster.NewCache(c, CacheOptions(a.manager))
		a.ownCache = true
	case !holdsEveryOwner(a.cache):
		return nil, errors.New("apply: the cache must hold every owner's objects (build it with apply.CacheOptions)")
	}
	if a.differ == nil {
		d, err := diff.New(c, diff.WithFieldManager(a.manager), diff.WithDryRun(c))
		if err != nil {
			return nil, err
		}
		a.differ = d
	}
	if a.checker == nil {
		e, err := health.New()
		if err != nil {
			return nil, err
		}
		a.checker = e
	}
	if a.inventory == nil {
		ns := owner.Namespace
		if ns == "" {
			ns = "default"
		}
		a.inventory = NewConfigMapInventory(c, ns, "converge-"+owner.Name, owner.Labels()).WithCache(a.cache)
	}
	return a, nil
}

func validateOwner(o Owner) error {
	if o.Name == "" {
		return errors.New("apply: owner has no name")
	}
	if errs := validation.IsDNS1123Label(o.Name); len(errs) > 0 || len(o.Name) > 54 {
		return fmt.Errorf("apply: owner name %q must be a DNS label of at most 54 characters", o.Name)
	}
	if o.Namespace != "" {
		if errs := validation.IsDNS1123Label(o.Namespace); len(errs) > 0 {
			return fmt.Errorf("apply: owner namespace %q: %s", o.Namespace, strings.Join(errs, "; "))
		}
	}
	if o.Source != "" {
		// The source is written on every object: never a password.
		if u, err := url.Parse(o.Source); err == nil && u.User != nil {
			if _, hasPassword := u.User.Password(); hasPassword {
				return errors.New("apply: owner source must not hold credentials")
			}
		}
		if len(o.Source) > 1024 {
			return errors.New("apply: owner source is longer than 1024 bytes")
		}
	}
	return nil
}

// Owner returns the Applier's owner.
func (a *Applier) Owner() Owner { return a.owner }

// Cache returns the cache the Applier reads live objects through.
func (a *Applier) Cache() *cluster.Cache { return a.cache }

// RemoveInventory removes the owner's stored inventory, as the last step
// of deleting the owner: apply an empty set with prune first. An
// inventory that cannot be removed (see Remover) is emptied instead.
func (a *Applier) RemoveInventory(ctx context.Context) error {
	if r, ok := a.inventory.(Remover); ok {
		return r.Remove(ctx)
	}
	return a.inventory.Store(ctx, nil)
}

// Close stops the Applier's own cache, if it started one.
func (a *Applier) Close() {
	if a.ownCache {
		a.cache.Stop()
	}
}

// item is one object of a prepared set.
type item struct {
	id  object.ID
	obj *unstructured.Unstructured
	s   settings
}

// prepared is a set made ready to apply: copied, defaulted, labelled,
// checked and split into hooks and stages.
type prepared struct {
	items   []*item // ordinary objects, in apply order
	hooks   map[Phase][]*item
	skipped []*item
	ids     []object.ID // the IDs the inventory keeps: ordinary objects
}

// prepare validates the whole set before anything is written.
func (a *Applier) prepare(ctx context.Context, set *object.Set, opts Options) (*prepared, error) {
	if set == nil {
		return nil, fmt.Errorf("%w: nil set", ErrRefused)
	}
	objs := set.Objects()
	var onRequest *unstructured.Unstructured
	if _, inSet := set.Get(namespaceID(opts.Namespace)); opts.CreateNamespace && opts.Namespace != "" && !inSet {
		onRequest = namespaceOnRequest(opts.Namespace, a.owner)
		objs = append(objs, onRequest)
	}

	// The scope of each kind, asked once per kind.
	crds := crdScopes(set)
	scopes := map[schema.GroupVersionKind]bool{}
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		if _, known := scopes[gvk]; known {
			continue
		}
		namespaced, err := a.namespaced(ctx, gvk, crds)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrRefused, object.IDOf(obj), err)
		}
		scopes[gvk] = namespaced
	}

	// Copy, check and label every object, in parallel: this is most of
	// what an in-sync apply costs.
	items := make([]*item, len(objs))
	errs := make([]error, len(objs))
	ownerLabels := a.owner.Labels()
	indexes := make([]int, len(objs))
	for i := range indexes {
		indexes[i] = i
	}
	forEach(context.Background(), indexes, runtime.GOMAXPROCS(0), func(i int) {
		if objs[i] == onRequest {
			items[i] = &item{id: object.IDOf(onRequest), obj: onRequest, s: settings{mode: modeIfNotPresent, onRequest: true}}
			return
		}
		items[i], errs[i] = prepareOne(objs[i], scopes, opts.Namespace, ownerLabels, a.owner.Source)
	})
	if err := errors.Join(errs...); err != nil {
		for _, e := range errs {
			if e != nil {
				return nil, e // the first in set order
			}
		}
	}

	p := &prepared{hooks: map[Phase][]*item{}}
	all := make([]*unstructured.Unstructured, 0, len(items))
	seen := make(map[object.ID]bool, len(items))
	for _, it := range items {
		all = append(all, it.obj)
		switch {
		case it.s.skip:
			p.skipped = append(p.skipped, it)
		case len(it.s.hooks) > 0:
			for _, ph := range it.s.hooks {
				p.hooks[ph] = append(p.hooks[ph], it)
			}
		default:
			if seen[it.id] {
				return nil, fmt.Errorf("%w: %s: %v", ErrRefused, it.id, object.ErrDuplicate)
			}
			seen[it.id] = true
			p.items = append(p.items, it)
		}
	}
	if a.policy != nil {
		if err := a.policy.Check(ctx, all); err != nil {
			return nil, fmt.Errorf("%w by policy: %w", ErrRefused, err)
		}
	}
	sortItems(p.items)
	for _, hs := range p.hooks {
		sortItems(hs)
	}
	p.ids = make([]object.ID, 0, len(p.items))
	for _, it := range p.items {
		if !it.s.onRequest {
			p.ids = append(p.ids, it.id)
		}
	}
	return p, nil
}

// prepareOne copies obj, reads its annotations, gives it the default
// namespace if its kind is namespaced and it has none, and marks it with
// the owner's labels and source.
func prepareOne(obj *unstructured.Unstructured, scopes map[schema.GroupVersionKind]bool, namespace string, ownerLabels map[string]string, source string) (*item, error) {
	obj = withOwnMetadata(obj)
	s, err := settingsOf(obj)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrRefused, object.IDOf(obj), err)
	}
	if obj.GetName() == "" {
		return nil, fmt.Errorf("%w: %s: object has no name", ErrRefused, object.IDOf(obj))
	}
	namespaced := scopes[obj.GroupVersionKind()]
	switch {
	case namespaced && obj.GetNamespace() == "" && namespace == "":
		return nil, fmt.Errorf("%w: %s: namespaced object without a namespace, and no default namespace given", ErrRefused, object.IDOf(obj))
	case namespaced && obj.GetNamespace() == "":
		obj.SetNamespace(namespace)
	case !namespaced && obj.GetNamespace() != "":
		obj.SetNamespace("")
	}
	md, ok := obj.Object["metadata"].(map[string]any) // withOwnMetadata copied it
	if !ok {
		return nil, fmt.Errorf("%w: %s: metadata is not an object", ErrRefused, object.IDOf(obj))
	}
	labels, _ := md["labels"].(map[string]any)
	if labels == nil {
		labels = make(map[string]any, len(ownerLabels))
		md["labels"] = labels
	}
	for k, v := range ownerLabels {
		labels[k] = v
	}
	if source != "" {
		annotations, _ := md["annotations"].(map[string]any)
		if annotations == nil {
			annotations = map[string]any{}
		} else {
			annotations = maps.Clone(annotations)
		}
		annotations[object.AnnotationSource] = source
		md["annotations"] = annotations
	}
	return &item{id: object.IDOf(obj), obj: obj, s: s}, nil
}

func namespaceID(name string) object.ID { return object.ID{Kind: "Namespace", Name: name} }

// namespaceOnRequest is the Namespace CreateNamespace creates: marked as
// created for owner, and without owner labels, so that it belongs to no
// inventory and no prune takes it (see Options.CreateNamespace).
func namespaceOnRequest(name string, owner Owner) *unstructured.Unstructured {
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName(name)
	ns.SetAnnotations(map[string]string{object.AnnotationCreatedFor: owner.key()})
	return ns
}

// withOwnMetadata returns a copy of obj whose metadata (labels included)
// may be changed without touching obj. Everything else is shared, not
// copied: the applier never changes it, and copying every spec of a large
// set on every call would cost more than the rest of an in-sync apply.
func withOwnMetadata(obj *unstructured.Unstructured) *unstructured.Unstructured {
	out := &unstructured.Unstructured{Object: maps.Clone(obj.Object)}
	if md, ok := obj.Object["metadata"].(map[string]any); ok {
		md = maps.Clone(md)
		if l, ok := md["labels"].(map[string]any); ok {
			md["labels"] = maps.Clone(l)
		}
		out.Object["metadata"] = md
	}
	return out
}

// namespaced says whether a kind is namespaced, from the API server or,
// for a kind whose CRD is in the set and not yet installed, from the CRD.
func (a *Applier) namespaced(ctx context.Context, gvk schema.GroupVersionKind, crds map[schema.GroupKind]bool) (bool, error) {
	m, err := a.client.RESTMapping(ctx, gvk)
	if err == nil {
		return m.Scope.Name() == meta.RESTScopeNameNamespace, nil
	}
	if namespaced, ok := crds[gvk.GroupKind()]; ok && meta.IsNoMatchError(err) {
		return namespaced, nil
	}
	if meta.IsNoMatchError(err) {
		return false, fmt.Errorf("kind %s is not served by the API server and no CRD in the set defines it", gvk)
	}
	return false, err
}

// crdScopes maps the kinds the set's CRDs define to whether they are
// namespaced.
func crdScopes(set *object.Set) map[schema.GroupKind]bool {
	out := map[schema.GroupKind]bool{}
	for _, obj := range set.Objects() {
		gvk := obj.GroupVersionKind()
		if gvk.Group != "apiextensions.k8s.io" || gvk.Kind != "CustomResourceDefinition" {
			continue
		}
		group, _, _ := unstructured.NestedString(obj.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(obj.Object, "spec", "names", "kind")
		scope, _, _ := unstructured.NestedString(obj.Object, "spec", "scope")
		out[schema.GroupKind{Group: group, Kind: kind}] = scope != "Cluster"
	}
	return out
}

func (a *Applier) tookOver(uid types.UID) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.takenOver[uid]
}

func (a *Applier) markTookOver(uid types.UID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.takenOver == nil {
		a.takenOver = map[types.UID]bool{}
	}
	a.takenOver[uid] = true
}
