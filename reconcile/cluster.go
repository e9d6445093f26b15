package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/object"
)

// inCluster are the names of the Reconciler's own cluster: Argo CD writes
// it as the in-cluster API server's URL.
var inCluster = map[string]bool{"": true, "in-cluster": true, "https://kubernetes.default.svc": true}

// clusterEntry is what every unit on one cluster shares: its client, one
// watch cache of the objects converge owns there, and caches of the
// ConfigMaps and Secrets units read (substitution, credentials).
type clusterEntry struct {
	name string
	// gen tells entries of one name apart: a unit's Applier built on an
	// entry that [Reconciler.ForgetCluster] replaced is built again.
	gen    uint64
	client *cluster.Client
	cache  *cluster.Cache

	mu           sync.Mutex
	refs         map[string]*cluster.Cache // namespace → ConfigMaps and Secrets
	impersonated map[string]*cluster.Client
}

func newClusterEntry(c *cluster.Client) *clusterEntry {
	return &clusterEntry{
		client:       c,
		cache:        cluster.NewCache(c, apply.CacheOptions(object.FieldManager)),
		refs:         map[string]*cluster.Cache{},
		impersonated: map[string]*cluster.Client{},
	}
}

func (e *clusterEntry) stop() {
	e.cache.Stop()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.refs {
		c.Stop()
	}
}

// clusterFor returns the entry of the unit's destination cluster.
func (r *Reconciler) clusterFor(ctx context.Context, u *Unit) (*clusterEntry, error) {
	name := u.Destination.Cluster
	if inCluster[name] {
		return r.home, nil
	}
	r.mu.Lock()
	e := r.entries[name]
	r.mu.Unlock()
	if e != nil {
		return e, nil
	}
	if r.clusters == nil {
		return nil, fmt.Errorf("destination cluster %q is not known (the host resolves other clusters with WithClusters)", name)
	}
	// A ForgetCluster while the resolver answers may mean the answer is
	// already stale (the credentials changed under it): ask again rather
	// than keep it. A few rounds, so that a host forgetting in a loop
	// cannot hold a pass forever.
	for range 3 {
		r.mu.Lock()
		forgotten := r.forgotten
		r.mu.Unlock()
		c, err := r.clusters.Cluster(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("destination cluster %q: %w", name, err)
		}
		if c == nil {
			return nil, fmt.Errorf("destination cluster %q is not known", name)
		}
		r.mu.Lock()
		if e := r.entries[name]; e != nil {
			r.mu.Unlock()
			return e, nil
		}
		if r.forgotten != forgotten {
			r.mu.Unlock()
			continue
		}
		if r.closed {
			r.mu.Unlock()
			return nil, errors.New("reconcile: the Reconciler is closed")
		}
		r.gens++
		e := newClusterEntry(c)
		e.name, e.gen = name, r.gens
		r.entries[name] = e
		r.mu.Unlock()
		return e, nil
	}
	return nil, fmt.Errorf("destination cluster %q: it was forgotten while it was being resolved, three times in a row", name)
}

// ForgetCluster drops what the Reconciler keeps of a destination cluster
// other than its own: its client and its watch caches stop, and the next
// pass of a unit on it asks the [ClusterResolver] again and builds the
// unit's Applier anew. A host calls it when a cluster's address or
// credentials change (its Secret was edited or deleted). name is the
// Unit.Destination.Cluster the units name it by; the Reconciler's own
// cluster and a name it does not hold are left alone, and it reports
// whether there was an entry to drop. A pass that is using the entry
// when it is dropped may fail (its cache stopped) and is retried as any
// failed pass; the units' statuses are kept.
func (r *Reconciler) ForgetCluster(name string) bool {
	if inCluster[name] {
		return false
	}
	r.mu.Lock()
	r.forgotten++
	e := r.entries[name]
	delete(r.entries, name)
	r.mu.Unlock()
	if e == nil {
		return false
	}
	e.stop()
	return true
}

// impersonating returns a client acting as a service account.
func (e *clusterEntry) impersonating(namespace, sa string) (*cluster.Client, error) {
	key := namespace + "/" + sa
	e.mu.Lock()
	defer e.mu.Unlock()
	if c := e.impersonated[key]; c != nil {
		return c, nil
	}
	c, err := cluster.New(cluster.Impersonate(e.client.Config(), namespace, sa))
	if err != nil {
		return nil, fmt.Errorf("impersonate %s: %w", key, err)
	}
	e.impersonated[key] = c
	return c, nil
}

// refCache returns the cache of ConfigMaps and Secrets of a namespace:
// reading the same ones on every pass then costs no request.
func (e *clusterEntry) refCache(namespace string) *cluster.Cache {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.refs[namespace]
	if c == nil {
		c = cluster.NewCache(e.client, cluster.CacheOptions{Namespaces: []string{namespace}, IgnoreCRDChanges: true})
		e.refs[namespace] = c
	}
	return c
}

var (
	gvkConfigMap = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	gvkSecret    = schema.GroupVersionKind{Version: "v1", Kind: "Secret"}
)

// data returns the string data of a ConfigMap or Secret (decoded), and
// whether it exists.
func (e *clusterEntry) data(ctx context.Context, kind, namespace, name string) (map[string]string, bool, error) {
	gvk := gvkConfigMap
	if kind == "Secret" {
		gvk = gvkSecret
	}
	obj, err := e.refCache(namespace).Get(ctx, gvk, namespace, name)
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s %s/%s: %w", kind, namespace, name, err)
	}
	return dataOf(obj, kind)
}

func dataOf(obj *unstructured.Unstructured, kind string) (map[string]string, bool, error) {
	out := map[string]string{}
	raw, _ := obj.Object["data"].(map[string]any)
	for k, v := range raw {
		s, ok := v.(string)
		if !ok {
			continue
		}
		if kind == "Secret" {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, false, fmt.Errorf("%s %s/%s: key %s is not base64", kind, obj.GetNamespace(), obj.GetName(), k)
			}
			s = string(b)
		}
		out[k] = s
	}
	return out, true, nil
}

// Secret returns the decoded data of a Secret, for the fetcher's
// credentials. It reads through the namespace's cache.
func (e *clusterEntry) Secret(ctx context.Context, namespace, name string) (map[string][]byte, error) {
	d, found, err := e.data(ctx, "Secret", namespace, name)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("Secret %s/%s not found", namespace, name)
	}
	out := make(map[string][]byte, len(d))
	for k, v := range d {
		out[k] = []byte(v)
	}
	return out, nil
}

// substitutionVars returns the unit's variables (substituteFrom in order,
// then the inline ones) and a hash of them that never reveals a value.
func (e *clusterEntry) substitutionVars(ctx context.Context, u *Unit) (map[string]string, string, error) {
	if len(u.Substitute.From) == 0 && len(u.Substitute.Vars) == 0 {
		return nil, "", nil
	}
	vars := map[string]string{}
	ns := u.Namespace
	if ns == "" {
		ns = "default"
	}
	for _, f := range u.Substitute.From {
		d, found, err := e.data(ctx, f.Kind, ns, f.Name)
		if err != nil {
			return nil, "", fmt.Errorf("substituteFrom: %w", err)
		}
		if !found {
			if f.Optional {
				continue
			}
			return nil, "", fmt.Errorf("substituteFrom: %s %s/%s not found (mark it optional if it may be absent)", f.Kind, ns, f.Name)
		}
		maps.Copy(vars, d)
	}
	maps.Copy(vars, u.Substitute.Vars)
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		fmt.Fprintf(h, "%d:%s=%d:%s\n", len(k), k, len(vars[k]), vars[k])
	}
	return vars, hex.EncodeToString(h.Sum(nil)), nil
}
