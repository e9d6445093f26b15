package apply

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"

	"github.com/converge-dev/converge/object"
)

// pruneStep is what a prune does with one candidate.
type pruneStep int

const (
	stepNone    pruneStep = iota // already gone, or kept as it is
	stepDelete                   // delete it
	stepRelease                  // take this owner's marks off; others keep it
)

// candidate is one object of the previous inventory that left the set,
// with the decision taken from its live state.
type candidate struct {
	id   object.ID
	live *unstructured.Unstructured
	step pruneStep
	// after is the ownership a release leaves.
	after ownership
	res   ObjectResult
}

// prune deletes what the previous inventory holds and the set no longer
// does, if the live object still carries this owner's marks and nothing
// asks to keep it. Every candidate is inspected first, and a prune that
// would delete an object last applied from another source does nothing
// at all. It returns the IDs the inventory must keep: those not pruned
// this time (prune off or refused, or the deletion failed).
func (r *run) prune(ctx context.Context, prev []object.ID, p *prepared) []object.ID {
	inSet := map[object.ID]bool{}
	setNamespaces := map[string]bool{}
	for _, it := range p.items {
		inSet[it.id] = true
		setNamespaces[it.id.Namespace] = true
	}
	for _, hs := range p.hooks {
		for _, it := range hs {
			inSet[it.id] = true
			setNamespaces[it.id.Namespace] = true
		}
	}
	for _, it := range p.skipped {
		inSet[it.id] = true
	}
	var ids []object.ID
	for _, id := range prev {
		if !inSet[id] {
			ids = append(ids, id)
		}
	}
	// The Namespace converge created on request, when the host now asks
	// for it to go: it is in no inventory.
	onRequest := object.ID{}
	if o := r.opts; o.PruneCreatedNamespace && !o.CreateNamespace && o.Namespace != "" {
		if id := namespaceID(o.Namespace); !inSet[id] && !slices.Contains(ids, id) {
			onRequest = id
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	switch {
	case !r.opts.Prune:
		r.res.PruneSkipped = "prune is off"
		return without(ids, onRequest)
	case len(p.items) == 0 && !r.opts.AllowEmptyPrune:
		r.res.PruneSkipped = "the set is empty; pruning everything needs AllowEmptyPrune"
		return without(ids, onRequest)
	}

	cands := make([]*candidate, len(ids))
	forEach(ctx, indexesOf(ids), r.opts.Concurrency, func(i int) {
		cands[i] = r.inspect(ctx, ids[i], ids[i] == onRequest, setNamespaces)
	})
	if ctx.Err() != nil {
		return without(ids, onRequest)
	}
	var refused []*candidate
	for _, c := range cands {
		if c.res.Action == Failed && errors.Is(c.res.Err, ErrOtherSource) {
			refused = append(refused, c)
		}
	}
	if len(refused) > 0 {
		for _, c := range refused {
			r.add(c.res)
		}
		first := refused[0]
		r.res.PruneSkipped = fmt.Sprintf("prune refused, nothing was deleted: %d objects were last applied from another source (first: %s from %s)",
			len(refused), first.id, ownershipOf(first.live).source)
		return without(ids, onRequest)
	}

	var (
		mu   sync.Mutex
		keep []object.ID
	)
	done := func(c *candidate) {
		r.add(c.res)
		if c.res.Action == Failed && c.id != onRequest {
			mu.Lock()
			keep = append(keep, c.id)
			mu.Unlock()
		}
	}
	var deletes []*candidate
	for _, c := range cands {
		switch c.step {
		case stepNone:
			if c.res.Action != "" { // a candidate that is not this owner's leaves no trace
				done(c)
			}
		case stepRelease:
			r.release(ctx, c)
			done(c)
		case stepDelete:
			deletes = append(deletes, c)
		}
	}
	slices.SortFunc(deletes, func(a, b *candidate) int {
		return cmp.Or(cmp.Compare(pruneRank(a.id), pruneRank(b.id)), object.Compare(a.id, b.id))
	})
	for start := 0; start < len(deletes); {
		end := start
		for end < len(deletes) && pruneRank(deletes[end].id) == pruneRank(deletes[start].id) {
			end++
		}
		group := deletes[start:end]
		start = end
		if ctx.Err() != nil {
			for _, c := range group {
				keep = append(keep, c.id)
			}
			continue
		}
		notStarted := forEach(ctx, group, r.opts.Concurrency, func(c *candidate) {
			r.delete(ctx, c)
			done(c)
		})
		for _, c := range notStarted {
			keep = append(keep, c.id)
		}
	}
	return keep
}

// inspect reads a candidate's live state and decides what to do with it.
func (r *run) inspect(ctx context.Context, id object.ID, onRequest bool, setNamespaces map[string]bool) *candidate {
	start := time.Now()
	c := &candidate{id: id, res: ObjectResult{ID: id, Phase: PhasePrune}}
	defer func() { c.res.Duration = time.Since(start) }()
	kept := func(reason string) *candidate {
		c.res.Action, c.res.Reason = Kept, reason
		return c
	}

	m, err := r.a.client.RESTMapping(ctx, schema.GroupVersionKind{Group: id.Group, Kind: id.Kind})
	if meta.IsNoMatchError(err) {
		c.res.Action, c.res.Reason = Pruned, "already gone (its kind is no longer served)"
		return c
	}
	if err != nil {
		c.res.Action, c.res.Err = Failed, err
		return c
	}
	live, err := r.a.client.Get(ctx, m.GroupVersionKind, id.Namespace, id.Name)
	switch {
	case apierrors.IsNotFound(err):
		if !onRequest {
			c.res.Action, c.res.Reason = Pruned, "already gone"
		}
		return c
	case err != nil:
		c.res.Action, c.res.Err = Failed, err
		return c
	}
	c.live = live
	me := r.a.owner
	own := ownershipOf(live)
	createdForMe := !own.hasPrimary && live.GetAnnotations()[object.AnnotationCreatedFor] == me.key()
	switch {
	case createdForMe && !(onRequest || r.opts.PruneCreatedNamespace):
		return kept("created on request (CreateNamespace); converge prunes it only with PruneCreatedNamespace")
	case onRequest && !createdForMe:
		return c // not converge's to prune: no result
	case !createdForMe && !own.holds(me):
		return kept("no longer carries this owner's labels")
	case keptLive(live):
		return kept("annotated to be kept")
	}
	if others := own.others(me); len(others) > 0 {
		c.step, c.after = stepRelease, own.without(me)
		return kept("shared with " + ownerList(others) + ": this owner let go of it")
	}
	if own.source != "" && own.source != me.Source && !r.opts.PruneOtherSources {
		c.res.Action, c.res.Err = Failed, &SourceError{Source: own.source, Want: me.Source}
		return c
	}
	if id.Kind == "Namespace" && id.Group == "" {
		return r.inspectNamespace(ctx, c, setNamespaces)
	}
	c.step = stepDelete
	return c
}

// inspectNamespace guards the prune of a Namespace, which takes
// everything in it: it is kept (and let go of) while the set still has
// objects in it or other owners have objects in it.
func (r *run) inspectNamespace(ctx context.Context, c *candidate, setNamespaces map[string]bool) *candidate {
	release := func(reason string) *candidate {
		c.step, c.after = stepRelease, ownership{}
		c.res.Action, c.res.Reason = Kept, reason
		return c
	}
	if setNamespaces[c.id.Name] {
		return release("the set still has objects in it; it is no longer this owner's")
	}
	owned, _ := labels.NewRequirement(object.LabelOwner, selection.Exists, nil)
	contents, err := r.a.client.NamespaceContents(ctx, c.id.Name, labels.NewSelector().Add(*owned))
	if err != nil {
		c.res.Action, c.res.Err = Failed, fmt.Errorf("a Namespace is pruned only once what it holds is known: %w", err)
		return c
	}
	var foreign []string
	others := map[string]bool{}
	for _, item := range contents {
		obj := &unstructured.Unstructured{}
		obj.SetLabels(item.Labels)
		obj.SetAnnotations(item.Annotations)
		own := ownershipOf(obj)
		if own.holds(r.a.owner) && len(own.others(r.a.owner)) == 0 {
			continue
		}
		for _, o := range own.others(r.a.owner) {
			others[o.key()] = true
		}
		foreign = append(foreign, item.Kind+"/"+item.Name)
	}
	if len(foreign) > 0 {
		names := slices.Sorted(maps.Keys(others))
		return release(fmt.Sprintf("holds %d objects of other owners (%s; first %s); it is no longer this owner's",
			len(foreign), strings.Join(names, ", "), foreign[0]))
	}
	c.step = stepDelete
	c.res.Reason = "a Namespace: everything in it is deleted with it"
	return c
}

// delete deletes a candidate and waits until it is gone.
func (r *run) delete(ctx context.Context, c *candidate) {
	start := time.Now()
	defer func() { c.res.Duration += time.Since(start) }()
	if r.dry {
		c.res.Action = Pruned
		return
	}
	if err := r.deleteAndWait(ctx, c.id, c.live, c.live.GetUID(), r.opts.PropagationPolicy, r.opts.PruneTimeout); err != nil {
		c.res.Action, c.res.Err = Failed, fmt.Errorf("prune: %w", err)
		return
	}
	r.a.differ.Forget(c.id)
	c.res.Action = Pruned
}

// release takes this owner's marks off a live object others still hold
// (or that nobody will hold), with a merge patch of metadata alone: an
// apply would drop the fields this owner's definition set. The patch
// carries the resourceVersion read, so a concurrent change fails it
// (and the next call tries again) rather than being overwritten.
func (r *run) release(ctx context.Context, c *candidate) {
	if r.dry {
		return
	}
	after := c.after
	labelPatch := map[string]any{object.LabelOwner: nil, object.LabelOwnerNamespace: nil}
	annotationPatch := map[string]any{object.AnnotationCoOwners: nil, object.AnnotationSource: nil, object.AnnotationCreatedFor: nil}
	if after.hasPrimary {
		labelPatch[object.LabelOwner] = after.primary.Name
		if after.primary.Namespace != "" {
			labelPatch[object.LabelOwnerNamespace] = after.primary.Namespace
		}
		if v := after.coOwnersValue(); v != "" {
			annotationPatch[object.AnnotationCoOwners] = v
		}
		if after.source != "" {
			// The next owner rewrites it on its next apply.
			annotationPatch[object.AnnotationSource] = after.source
		}
	}
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"resourceVersion": c.live.GetResourceVersion(),
		"labels":          labelPatch,
		"annotations":     annotationPatch,
	}})
	if err == nil {
		err = r.patchMetadata(ctx, c, body)
	}
	if err != nil {
		c.res.Action, c.res.Err = Failed, fmt.Errorf("let go of a shared object: %w", err)
		return
	}
	r.a.differ.Forget(c.id)
}

func (r *run) patchMetadata(ctx context.Context, c *candidate, body []byte) error {
	ri, _, err := r.a.client.ResourceFor(ctx, c.live)
	if err != nil {
		return err
	}
	patched, err := ri.Patch(ctx, c.id.Name, types.MergePatchType, body, metav1.PatchOptions{FieldManager: r.a.manager})
	if err != nil {
		return err
	}
	r.wrote(c.id, patched.GetResourceVersion())
	return nil
}

func ownerList(owners []Owner) string {
	keys := make([]string, len(owners))
	for i, o := range owners {
		keys[i] = o.key()
	}
	return strings.Join(keys, ", ")
}

func indexesOf[T any](s []T) []int {
	out := make([]int, len(s))
	for i := range out {
		out[i] = i
	}
	return out
}

// without returns ids without the zero-or-given id drop.
func without(ids []object.ID, drop object.ID) []object.ID {
	if drop == (object.ID{}) {
		return ids
	}
	return slices.DeleteFunc(slices.Clone(ids), func(id object.ID) bool { return id == drop })
}
