package apply

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/object"
)

// prune deletes what the previous inventory holds and the set no longer
// does, if the live object still carries this owner's labels and is not
// annotated to be kept. It returns the IDs the inventory must keep: those
// not pruned this time (prune off, or the deletion failed).
func (r *run) prune(ctx context.Context, prev []object.ID, p *prepared) []object.ID {
	inSet := map[object.ID]bool{}
	for _, it := range p.items {
		inSet[it.id] = true
	}
	for _, hs := range p.hooks {
		for _, it := range hs {
			inSet[it.id] = true
		}
	}
	for _, it := range p.skipped {
		inSet[it.id] = true
	}
	var candidates []object.ID
	for _, id := range prev {
		if !inSet[id] {
			candidates = append(candidates, id)
		}
	}
	if len(candidates) == 0 {
		return nil
	}
	switch {
	case !r.opts.Prune:
		r.res.PruneSkipped = "prune is off"
		return candidates
	case len(p.items) == 0 && !r.opts.AllowEmptyPrune:
		r.res.PruneSkipped = "the set is empty; pruning everything needs AllowEmptyPrune"
		return candidates
	}

	slices.SortFunc(candidates, func(a, b object.ID) int {
		return cmp.Or(cmp.Compare(pruneRank(a), pruneRank(b)), object.Compare(a, b))
	})
	var (
		mu   sync.Mutex
		keep []object.ID
	)
	for start := 0; start < len(candidates); {
		end := start
		for end < len(candidates) && pruneRank(candidates[end]) == pruneRank(candidates[start]) {
			end++
		}
		group := candidates[start:end]
		start = end
		if ctx.Err() != nil {
			keep = append(keep, group...)
			continue
		}
		notStarted := forEach(ctx, group, r.opts.Concurrency, func(id object.ID) {
			or := r.pruneOne(ctx, id)
			r.add(or)
			if or.Action == Failed {
				mu.Lock()
				keep = append(keep, id)
				mu.Unlock()
			}
		})
		keep = append(keep, notStarted...)
	}
	return keep
}

func (r *run) pruneOne(ctx context.Context, id object.ID) (or ObjectResult) {
	start := time.Now()
	or = ObjectResult{ID: id, Phase: PhasePrune}
	defer func() { or.Duration = time.Since(start) }()

	m, err := r.a.client.RESTMapping(schema.GroupVersionKind{Group: id.Group, Kind: id.Kind})
	if meta.IsNoMatchError(err) {
		or.Action, or.Reason = Pruned, "already gone (its kind is no longer served)"
		return or
	}
	if err != nil {
		or.Action, or.Err = Failed, err
		return or
	}
	probe := &unstructured.Unstructured{}
	probe.SetGroupVersionKind(m.GroupVersionKind)
	probe.SetNamespace(id.Namespace)
	probe.SetName(id.Name)
	live, err := r.a.client.Get(ctx, m.GroupVersionKind, id.Namespace, id.Name)
	switch {
	case apierrors.IsNotFound(err):
		or.Action, or.Reason = Pruned, "already gone"
		return or
	case err != nil:
		or.Action, or.Err = Failed, err
		return or
	case !r.a.owner.owns(live):
		or.Action, or.Reason = Kept, "no longer carries this owner's labels"
		return or
	case keptLive(live):
		or.Action, or.Reason = Kept, "annotated to be kept"
		return or
	}
	if r.dry {
		or.Action = Pruned
		return or
	}
	if err := r.deleteAndWait(ctx, id, probe, live.GetUID(), r.opts.PropagationPolicy, r.opts.PruneTimeout); err != nil {
		or.Action, or.Err = Failed, fmt.Errorf("prune: %w", err)
		return or
	}
	r.a.differ.Forget(id)
	or.Action = Pruned
	return or
}
