package apply

import (
	"context"
	"fmt"

	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/object"
)

// hooks runs the hooks of one phase, wave by wave (a Helm hook's weight
// is its wave): each is deleted first when its policy says so, applied,
// and waited for until healthy (a Job complete, a Pod succeeded); then
// deleted by its policy. It reports whether all succeeded.
func (r *run) hooks(ctx context.Context, phase Phase, items []*item) bool {
	if len(items) == 0 {
		return true
	}
	if r.dry {
		for _, it := range items {
			r.add(ObjectResult{ID: it.id, Phase: phase, Wave: it.s.wave, Action: Created, Reason: "hook would run"})
		}
		return true
	}
	ok := true
	for start := 0; start < len(items); {
		end := start
		for end < len(items) && items[end].s.wave == items[start].s.wave {
			end++
		}
		wave := items[start:end]
		start = end
		if !ok || ctx.Err() != nil {
			r.skipAll(wave, phase, "an earlier hook failed")
			continue
		}
		ok = r.hookWave(ctx, phase, wave)
	}
	return ok
}

func (r *run) hookWave(ctx context.Context, phase Phase, wave []*item) bool {
	results := make([]ObjectResult, len(wave))
	var ids []object.ID
	for i, it := range wave {
		results[i] = ObjectResult{ID: it.id, Phase: phase, Wave: it.s.wave}
		if it.s.deletePolicy&beforeHookCreation != 0 {
			if err := r.deleteAndWait(ctx, it.id, it.obj, "", r.opts.PropagationPolicy, r.opts.WaitTimeout); err != nil {
				results[i].Action, results[i].Err = Failed, fmt.Errorf("%w: delete the previous run: %v", ErrHook, err)
				continue
			}
			r.a.differ.Forget(it.id)
		}
		applied, err := r.write(ctx, it.obj)
		if err != nil {
			results[i].Action, results[i].Err = Failed, fmt.Errorf("%w: %v", ErrHook, err)
			continue
		}
		results[i].Action = Created
		if err := r.a.differ.Record(it.obj, applied); err != nil {
			r.a.log.V(1).Info("no receipt", "object", it.id.String(), "reason", err.Error())
		}
		ids = append(ids, it.id)
	}

	ok := len(ids) == len(wave)
	if len(ids) > 0 {
		wo := health.DefaultWaitOptions()
		wo.Timeout = r.opts.WaitTimeout
		wo.FailFast = true
		report, err := health.Wait(ctx, r.a.cache.View(), r.a.checker, ids, wo)
		status := map[object.ID]health.ObjectResult{}
		for _, res := range report.Results {
			status[res.ID] = res
		}
		for i := range results {
			if results[i].Action == Failed {
				continue
			}
			if s, found := status[results[i].ID]; err != nil && (!found || s.Status != health.Healthy) {
				ok = false
				results[i].Action = Failed
				results[i].Err = fmt.Errorf("%w: %s: %s", ErrHook, s.Status, s.Message)
			}
		}
	}

	for i, it := range wave {
		failed := results[i].Action == Failed
		if (failed && it.s.deletePolicy&hookFailed != 0) || (!failed && it.s.deletePolicy&hookSucceeded != 0) {
			if err := r.deleteAndWait(ctx, it.id, it.obj, "", r.opts.PropagationPolicy, r.opts.WaitTimeout); err != nil {
				r.a.log.Info("hook not deleted", "object", it.id.String(), "error", err.Error())
			}
			r.a.differ.Forget(it.id)
		}
		r.add(results[i])
	}
	return ok
}
