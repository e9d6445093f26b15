package apply

import (
	"context"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"

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
	if r.dry {
		for _, it := range wave {
			r.add(ObjectResult{ID: it.id, Phase: phase, Wave: it.s.wave, Action: Created, Reason: "hook would run"})
		}
		return true
	}
	results := make([]ObjectResult, len(wave))
	uids := make([]types.UID, len(wave))
	var ids []object.ID
	seen := r.watchCompletions(ctx, wave)
	defer seen.stop()
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
		uids[i] = applied.GetUID()
		if err := r.a.differ.Record(ctx, it.obj, applied); err != nil {
			r.a.log.V(1).Info("no receipt", "object", it.id.String(), "reason", err.Error())
		}
		ids = append(ids, it.id)
	}

	ok := len(ids) == len(wave)
	if len(ids) > 0 {
		wo := health.DefaultWaitOptions()
		wo.Timeout = r.opts.WaitTimeout
		wo.FailFast = true
		// The wait ends once every hook was seen to succeed, even one
		// already deleted, which the wait alone would wait for until
		// its timeout.
		waitCtx, cancel := context.WithCancel(ctx)
		seen.whenAll(uids, cancel)
		report, err := health.Wait(waitCtx, r.a.cache.View(), r.a.checker, ids, wo)
		cancel()
		status := map[object.ID]health.ObjectResult{}
		for _, res := range report.Results {
			status[res.ID] = res
		}
		for i := range results {
			if results[i].Action == Failed {
				continue
			}
			if s, found := status[results[i].ID]; err != nil && (!found || s.Status != health.Healthy) && !seen.succeeded(uids[i]) {
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

// completions records hooks seen healthy in the watch's own events. A
// hook may be gone by the time the wait reads the cache: a Job with
// ttlSecondsAfterFinished is deleted by the TTL controller the moment it
// completes, and something else may delete a hook that succeeded. Its
// success is still in the events that came before the deletion.
type completions struct {
	mu     sync.Mutex
	ids    map[object.ID]bool
	done   map[types.UID]bool // by UID: the previous run's hook, replayed, must not count
	remove []func()
	check  health.Checker

	expect  []types.UID
	allDone func()
}

// whenAll calls fn once every uid (those not empty) was seen healthy.
func (c *completions) whenAll(uids []types.UID, fn func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, uid := range uids {
		if uid != "" {
			c.expect = append(c.expect, uid)
		}
	}
	c.allDone = fn
	c.checkAllLocked()
}

func (c *completions) checkAllLocked() {
	if c.allDone == nil || len(c.expect) == 0 {
		return
	}
	for _, uid := range c.expect {
		if !c.done[uid] {
			return
		}
	}
	c.allDone()
	c.allDone = nil
}

// watchCompletions watches the hooks of a wave for their success.
func (r *run) watchCompletions(ctx context.Context, wave []*item) *completions {
	c := &completions{ids: map[object.ID]bool{}, done: map[types.UID]bool{}, check: r.a.checker}
	type scope struct {
		gvk       schema.GroupVersionKind
		namespace string
	}
	scopes := map[scope]bool{}
	for _, it := range wave {
		c.ids[it.id] = true
		scopes[scope{it.obj.GroupVersionKind(), it.id.Namespace}] = true
	}
	for sc := range scopes {
		gvk, ns := sc.gvk, sc.namespace
		remove, err := r.a.cache.AddEventHandler(ctx, gvk, ns, toolscache.ResourceEventHandlerFuncs{
			AddFunc:    c.record,
			UpdateFunc: func(_, obj any) { c.record(obj) },
		})
		if err == nil {
			c.remove = append(c.remove, remove)
		}
	}
	return c
}

func (c *completions) record(obj any) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	id := object.IDOf(u)
	if !c.ids[id] || c.check.Check(u).Status != health.Healthy {
		return
	}
	c.mu.Lock()
	c.done[u.GetUID()] = true
	c.checkAllLocked()
	c.mu.Unlock()
}

// succeeded reports whether the object with uid was seen healthy.
func (c *completions) succeeded(uid types.UID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return uid != "" && c.done[uid]
}

func (c *completions) stop() {
	for _, remove := range c.remove {
		remove()
	}
}
