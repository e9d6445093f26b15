package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
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
// and '-', at most 63 characters.
type Owner struct {
	Name string
	// Namespace is the namespace of the unit, when it has one (the
	// namespace of the host's own resource); it is a label too, and where
	// the default inventory is kept ("default" when empty).
	Namespace string
}

// Labels returns the ownership labels the Applier puts on objects.
func (o Owner) Labels() map[string]string {
	l := map[string]string{object.LabelOwner: o.Name}
	if o.Namespace != "" {
		l[object.LabelOwnerNamespace] = o.Namespace
	}
	return l
}

// owns reports whether a live object carries o's labels.
func (o Owner) owns(obj *unstructured.Unstructured) bool {
	l := obj.GetLabels()
	return l[object.LabelOwner] == o.Name && l[object.LabelOwnerNamespace] == o.Namespace
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
// the host. By default it starts its own, limited to objects that carry the
// owner's labels, and Close stops it.
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
	if a.cache == nil {
		a.cache = cluster.NewCache(c, cluster.CacheOptions{
			Selector:  labels.SelectorFromSet(labels.Set{object.LabelOwner: owner.Name}),
			Transform: cluster.TrimManagedFields(a.manager),
		})
		a.ownCache = true
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
	return nil
}

// Owner returns the Applier's owner.
func (a *Applier) Owner() Owner { return a.owner }

// Cache returns the cache the Applier reads live objects through.
func (a *Applier) Cache() *cluster.Cache { return a.cache }

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
	crds := crdScopes(set)
	p := &prepared{hooks: map[Phase][]*item{}}
	var all []*unstructured.Unstructured
	hasNamespace := map[string]bool{}
	add := func(obj *unstructured.Unstructured) error {
		obj = obj.DeepCopy()
		s, err := settingsOf(obj)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrRefused, object.IDOf(obj), err)
		}
		if obj.GetName() == "" {
			return fmt.Errorf("%w: %s: object has no name", ErrRefused, object.IDOf(obj))
		}
		namespaced, err := a.namespaced(obj.GroupVersionKind(), crds)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrRefused, object.IDOf(obj), err)
		}
		switch {
		case namespaced && obj.GetNamespace() == "" && opts.Namespace == "":
			return fmt.Errorf("%w: %s: namespaced object without a namespace, and no default namespace given", ErrRefused, object.IDOf(obj))
		case namespaced && obj.GetNamespace() == "":
			obj.SetNamespace(opts.Namespace)
		case !namespaced && obj.GetNamespace() != "":
			obj.SetNamespace("")
		}
		l := obj.GetLabels()
		if l == nil {
			l = map[string]string{}
		}
		for k, v := range a.owner.Labels() {
			l[k] = v
		}
		obj.SetLabels(l)
		it := &item{id: object.IDOf(obj), obj: obj, s: s}
		all = append(all, obj)
		switch {
		case s.skip:
			p.skipped = append(p.skipped, it)
		case len(s.hooks) > 0:
			for _, ph := range s.hooks {
				p.hooks[ph] = append(p.hooks[ph], it)
			}
		default:
			if obj.GetKind() == "Namespace" && obj.GroupVersionKind().Group == "" {
				hasNamespace[obj.GetName()] = true
			}
			p.items = append(p.items, it)
		}
		return nil
	}
	for _, obj := range set.Objects() {
		if err := add(obj); err != nil {
			return nil, err
		}
	}
	if opts.CreateNamespace && opts.Namespace != "" && !hasNamespace[opts.Namespace] {
		ns := &unstructured.Unstructured{}
		ns.SetAPIVersion("v1")
		ns.SetKind("Namespace")
		ns.SetName(opts.Namespace)
		if err := add(ns); err != nil {
			return nil, err
		}
	}
	seen := map[object.ID]bool{}
	for _, it := range p.items {
		if seen[it.id] {
			return nil, fmt.Errorf("%w: %s: %v", ErrRefused, it.id, object.ErrDuplicate)
		}
		seen[it.id] = true
	}
	if a.policy != nil {
		if err := a.policy.Check(ctx, all); err != nil {
			return nil, fmt.Errorf("%w by policy: %v", ErrRefused, err)
		}
	}
	sortItems(p.items)
	for _, hs := range p.hooks {
		sortItems(hs)
	}
	for _, it := range p.items {
		p.ids = append(p.ids, it.id)
	}
	return p, nil
}

// namespaced says whether a kind is namespaced, from the API server or,
// for a kind whose CRD is in the set and not yet installed, from the CRD.
func (a *Applier) namespaced(gvk schema.GroupVersionKind, crds map[schema.GroupKind]bool) (bool, error) {
	m, err := a.client.RESTMapping(gvk)
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
