package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/internal/testenv"
	"github.com/converge-dev/converge/object"
)

// operatorComparison runs converge's reference operator (examples/operator)
// and the real Flux source-controller and kustomize-controller (v1.9.6,
// built from the module proxy by hack/flux/build.sh) as processes on the
// shared bare control plane, each in turn, on one repository served by git
// http-backend: 500 apps of 20 ConfigMaps each, as converge Applications
// and as Flux Kustomizations on one GitRepository, both with wait (Ready
// means applied and healthy), prune, a ten-minute interval (the
// GitRepository's one minute) and four workers (both tools' default). It
// prints
//
//   - operator-500-apps: creating the apps → every one has been Ready at
//     the commit, with objects per second and the API requests each side's
//     processes made (client-go's own rest_client_requests_total);
//   - operator-500-apps-idle: the CPU time of each side over two idle
//     minutes, with the API and Git requests made in them and resident
//     memory now and at peak;
//   - operator-500-apps-resync: every app asked for a pass at once
//     (converge.dev/requested-at, reconcile.fluxcd.io/requestedAt), the
//     commit unchanged → every one has handled it: a steady-state
//     reconcile 500 times, with API requests per reconcile and the Git
//     requests;
//   - operator-500-apps-webhook: a push that changes one app → its object
//     changed in the cluster, converge through its webhook receiver (a
//     Gitea push event) and Flux through the annotation its
//     notification-controller's Receiver sets on the GitRepository; and
//     the reconcile storm the push starts: every one of the 500 apps at
//     the new commit, with the Git requests it took;
//   - operator-500-kustomizations: the same 500 Flux Kustomizations served
//     by converge's operator (--serve-flux) against the Flux controllers,
//     after which the two namespaces must hold the same objects (Flux is
//     the oracle of the compatibility mode).
var operatorComparison = comparison{name: "operator", run: runOperator}

const (
	opApps    = 500
	opObjects = 20
	opRepo    = "fleet.git"
	// opInterval is the apps' interval: long enough that no app comes
	// round again before all are Ready (Flux's four workers then
	// re-apply every Ready app, and 500 of them at one minute would
	// never let the first passes finish); the idle window sees the share
	// of the apps whose interval ends in it, and the figures are per
	// reconcile.
	opInterval    = 10 * time.Minute
	opSourceEvery = time.Minute // the GitRepository's interval
	opIdleWindow  = 2 * time.Minute
	opConcurrency = 4
	opReadyWithin = 20 * time.Minute
	fluxVersion   = "v1.9.6" // hack/flux/build.sh's FLUX_VERSION
	webhookSecret = "bench-webhook-secret"
)

var (
	applicationGVK   = schema.GroupVersionKind{Group: "converge.dev", Version: "v1alpha1", Kind: "Application"}
	kustomizationGVK = schema.GroupVersionKind{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Kind: "Kustomization"}
	gitRepositoryGVK = schema.GroupVersionKind{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "GitRepository"}
)

func opAppName(i int) string { return fmt.Sprintf("app-%03d", i) }

// fleetSide is one tool under measurement: its processes, the objects
// that declare the 500 apps, and how a push reaches it.
type fleetSide struct {
	name       string // for errors
	ns         string // of the apps and of the objects they apply
	kind       schema.GroupVersionKind
	controller string // controller_runtime_reconcile_total's label of the apps' controller
	start      func(ctx context.Context) ([]*controllerProc, error)
	create     func(ctx context.Context) error
	trigger    func(ctx context.Context, commit string) error // nil: no push measured
	// release lists the kinds of ns deleted, their finalizers taken off
	// first, once the side's processes stopped.
	release []schema.GroupVersionKind
	// requestAnnotation asks an app for a pass now; the pass echoes its
	// value in status.lastHandledReconcileAt.
	requestAnnotation string
	// coalesce is the side's fetch-coalescing window, which bounds the
	// Git requests of the storm a push starts (0: not checked).
	coalesce time.Duration
}

// fleetFigures are what one side measured.
type fleetFigures struct {
	ready          time.Duration
	requests       apiRequests
	idleCPU        time.Duration
	idle           apiRequests
	idleReconciles float64
	idleGit        int64
	rss, peak      uint64
	webhook, storm time.Duration
	stormRequests  apiRequests
	stormGit       int64
	// resync: every app asked for a pass of the unchanged commit.
	resync           time.Duration
	resyncRequests   apiRequests
	resyncReconciles float64
	resyncGit        int64
}

type operatorBench struct {
	env   *testenv.Env
	root  string // the converge checkout
	work  string
	srv   *gitServer
	url   string
	tree  string // the working clone the pushes come from
	head  string
	opBin string
	flux  string // folder of the Flux binaries
}

func runOperator(ctx context.Context, h *harness) ([]result, error) {
	env, err := h.bare()
	if err != nil {
		return nil, err
	}
	root, err := repoRootDir()
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "converge-bench-operator-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	b := &operatorBench{env: env, root: root, work: work, tree: filepath.Join(work, "tree")}
	srvRoot := filepath.Join(work, "srv")
	if b.head, err = operatorRepoInit(ctx, b.tree, filepath.Join(srvRoot, opRepo)); err != nil {
		return nil, fmt.Errorf("generate repository: %w", err)
	}
	if b.srv, err = startGitServer(srvRoot); err != nil {
		return nil, err
	}
	defer b.srv.close()
	b.url = b.srv.URL + "/" + opRepo

	fmt.Fprintln(os.Stderr, "bench: operator: building the operator and Flux", fluxVersion, "(cached after the first run)")
	b.opBin = filepath.Join(work, "operator")
	build := exec.CommandContext(ctx, "go", "build", "-o", b.opBin, "./operator/cmd/operator")
	build.Dir = filepath.Join(root, "examples")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build the operator: %w\n%s", err, out)
	}
	if b.flux, err = script(ctx, root, "hack/flux/build.sh"); err != nil {
		return nil, err
	}
	fluxCRDs, err := script(ctx, root, "hack/flux/build.sh", "crds")
	if err != nil {
		return nil, err
	}
	crdDirs := append([]string{filepath.Join(root, "examples", "operator", "config", "crd")}, strings.Fields(fluxCRDs)...)
	if err := installCRDFiles(ctx, env.Client, crdDirs); err != nil {
		return nil, err
	}

	conv, err := b.measure(ctx, b.convergeSide("op-converge", false), "2")
	if err != nil {
		return nil, fmt.Errorf("converge: %w", err)
	}
	flux, err := b.measure(ctx, b.fluxSide("op-flux"), "3")
	if err != nil {
		return nil, fmt.Errorf("flux: %w", err)
	}
	objects := float64(opApps * opObjects)
	perSec := func(d time.Duration) string { return decimal(float64(int64(objects / d.Seconds()))) }
	peerName := "flux-" + fluxVersion
	results := []result{{
		Name: "operator-500-apps", Converge: conv.ready, PeerName: peerName, Peer: flux.ready,
		Requests: int64(conv.requests.all), Writes: int64(conv.requests.writes),
		Extra: []string{
			fmt.Sprintf("apps=%d objects=%d", opApps, opApps*opObjects),
			"objects_per_s=" + perSec(conv.ready), "peer_objects_per_s=" + perSec(flux.ready),
			fmt.Sprintf("peer_requests=%d peer_writes=%d workers=%d", int64(flux.requests.all), int64(flux.requests.writes), opConcurrency),
		},
	}, {
		Name: "operator-500-apps-idle", Converge: conv.idleCPU, PeerName: peerName + "-cpu", Peer: flux.idleCPU,
		Requests: int64(conv.idle.all), Writes: int64(conv.idle.writes),
		Extra: []string{
			fmt.Sprintf("window=%s interval=%s source_interval=%s", opIdleWindow, opInterval, opSourceEvery),
			fmt.Sprintf("reconciles=%d git_requests=%d", int64(conv.idleReconciles), conv.idleGit),
			fmt.Sprintf("peer_reconciles=%d peer_requests=%d peer_git_requests=%d", int64(flux.idleReconciles), int64(flux.idle.all), flux.idleGit),
			fmt.Sprintf("memory=%.0fMiB peak=%.0fMiB peer_memory=%.0fMiB peer_peak=%.0fMiB", mib(conv.rss), mib(conv.peak), mib(flux.rss), mib(flux.peak)),
		},
	}, {
		Name: "operator-500-apps-resync", Converge: conv.resync, PeerName: peerName, Peer: flux.resync,
		Requests: int64(conv.resyncRequests.all), Writes: int64(conv.resyncRequests.writes),
		Extra: []string{
			fmt.Sprintf("reconciles=%d requests_per_reconcile=%s git_requests=%d", int64(conv.resyncReconciles), perReconcile(conv.resyncRequests, conv.resyncReconciles), conv.resyncGit),
			fmt.Sprintf("peer_reconciles=%d peer_requests=%d peer_writes=%d peer_requests_per_reconcile=%s peer_git_requests=%d",
				int64(flux.resyncReconciles), int64(flux.resyncRequests.all), int64(flux.resyncRequests.writes), perReconcile(flux.resyncRequests, flux.resyncReconciles), flux.resyncGit),
		},
	}, {
		Name: "operator-500-apps-webhook", Converge: conv.webhook, PeerName: peerName + "-receiver-annotation", Peer: flux.webhook,
		Requests: int64(conv.stormRequests.all), Writes: int64(conv.stormRequests.writes),
		Extra: []string{
			"storm=" + seconds(conv.storm), "peer_storm=" + seconds(flux.storm),
			fmt.Sprintf("git_requests=%d peer_git_requests=%d peer_requests=%d", conv.stormGit, flux.stormGit, int64(flux.stormRequests.all)),
		},
	}}

	// The compatibility mode on the Flux controllers' own objects, at the
	// commit Flux applied last.
	compat, err := b.measure(ctx, b.convergeSide("op-compat", true), "")
	if err != nil {
		return results, fmt.Errorf("converge --serve-flux: %w", err)
	}
	same, err := sameObjects(ctx, env.Client, "op-flux", "op-compat")
	if err != nil {
		return results, fmt.Errorf("the compatibility mode left another state than Flux: %w", err)
	}
	results = append(results, result{
		Name: "operator-500-kustomizations", Converge: compat.ready, PeerName: peerName, Peer: flux.ready,
		Requests: int64(compat.requests.all), Writes: int64(compat.requests.writes),
		Extra: []string{"objects_per_s=" + perSec(compat.ready), fmt.Sprintf("same_state=%t objects=%d", same > 0, same)},
	})
	return results, nil
}

func perReconcile(r apiRequests, reconciles float64) string {
	if reconciles == 0 {
		return "n/a"
	}
	return decimal(float64(int64(r.all/reconciles*100)) / 100)
}

// measure runs one side from start to finish: its processes up, the apps
// created and Ready, and, with a trigger, an idle window and one push
// that changes app-000's first ConfigMap to version.
func (b *operatorBench) measure(ctx context.Context, s fleetSide, version string) (fleetFigures, error) {
	var f fleetFigures
	c := b.env.Client
	if err := createNamespace(ctx, c, s.ns); err != nil {
		return f, err
	}
	procs, err := s.start(ctx)
	if err != nil {
		return f, err
	}
	defer func() {
		for _, p := range procs {
			p.stop()
		}
		// The next side's operator would serve these too: they go, what
		// they applied stays for the comparison of states.
		for _, gvk := range s.release {
			if err := releaseAll(context.WithoutCancel(ctx), c, gvk, s.ns); err != nil {
				fmt.Fprintf(os.Stderr, "bench: operator: %s: release %s: %v\n", s.name, gvk.Kind, err)
			}
		}
	}()
	scrape := func() ([]metricSet, error) {
		var out []metricSet
		for _, p := range procs {
			if err := p.alive(); err != nil {
				return nil, err
			}
			m, err := p.scrape(ctx)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		}
		return out, nil
	}
	requests := func(ms []metricSet) (r apiRequests) {
		for _, m := range ms {
			q := m.apiRequests()
			r.all, r.writes = r.all+q.all, r.writes+q.writes
		}
		return r
	}
	reconciles := func(ms []metricSet) (n float64) {
		for _, m := range ms {
			n += m.sum("controller_runtime_reconcile_total", `controller="`+s.controller+`"`)
		}
		return n
	}
	before, err := scrape()
	if err != nil {
		return f, err
	}

	fmt.Fprintf(os.Stderr, "bench: operator: %s: %d apps of %d objects ...\n", s.name, opApps, opObjects)
	start := time.Now()
	if err := s.create(ctx); err != nil {
		return f, err
	}
	if err := b.waitAll(ctx, s, b.head, procs); err != nil {
		return f, err
	}
	f.ready = time.Since(start)
	after, err := scrape()
	if err != nil {
		return f, err
	}
	f.requests = requests(after).sub(requests(before))
	if s.trigger == nil {
		return f, nil // measured: the time to Ready alone
	}

	fmt.Fprintf(os.Stderr, "bench: operator: %s: Ready in %s; idle for %s ...\n", s.name, seconds(f.ready), opIdleWindow)
	cpu0, err := procsCPU(procs)
	if err != nil {
		return f, err
	}
	git0 := b.srv.requests.Load()
	select {
	case <-time.After(opIdleWindow):
	case <-ctx.Done():
		return f, ctx.Err()
	}
	cpu1, err := procsCPU(procs)
	if err != nil {
		return f, err
	}
	f.idleGit = b.srv.requests.Load() - git0
	f.idleCPU = cpu1 - cpu0
	idle, err := scrape()
	if err != nil {
		return f, err
	}
	f.idle = requests(idle).sub(requests(after))
	f.idleReconciles = reconciles(idle) - reconciles(after)
	for _, p := range procs {
		rss, peak, err := p.memory()
		if err != nil {
			return f, err
		}
		f.rss, f.peak = f.rss+rss, f.peak+peak
	}

	// Every app asked for a pass at once, the commit unchanged: what a
	// steady-state reconcile costs, 500 times.
	fmt.Fprintf(os.Stderr, "bench: operator: %s: %d apps asked for a pass ...\n", s.name, opApps)
	at := time.Now().UTC().Format(time.RFC3339Nano)
	git0 = b.srv.requests.Load()
	start = time.Now()
	if err := annotateAll(ctx, c, s.kind, s.ns, s.requestAnnotation, at); err != nil {
		return f, err
	}
	err = b.waitEvery(ctx, s, procs, "handled the request", func(obj *unstructured.Unstructured) (bool, string) {
		handled, _, _ := unstructured.NestedString(obj.Object, "status", "lastHandledReconcileAt")
		if handled != at {
			return false, ""
		}
		return readyAt(obj, b.head)
	})
	if err != nil {
		return f, err
	}
	f.resync = time.Since(start)
	f.resyncGit = b.srv.requests.Load() - git0
	resynced, err := scrape()
	if err != nil {
		return f, err
	}
	f.resyncRequests = requests(resynced).sub(requests(idle))
	f.resyncReconciles = reconciles(resynced) - reconciles(idle)

	commit, err := operatorPush(ctx, b.tree, version)
	if err != nil {
		return f, err
	}
	b.head = commit
	git0 = b.srv.requests.Load()
	start = time.Now()
	if err := s.trigger(ctx, commit); err != nil {
		return f, err
	}
	key := types.NamespacedName{Namespace: s.ns, Name: opAppName(0) + "-00"}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		cm := &unstructured.Unstructured{}
		cm.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"})
		if err := c.Get(ctx, key, cm); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		v, _, _ := unstructured.NestedString(cm.Object, "data", "version")
		return v == version, nil
	})
	if err != nil {
		return f, fmt.Errorf("the push did not reach %s within 5m: %w", key, err)
	}
	f.webhook = time.Since(start)
	if err := b.waitAll(ctx, s, commit, procs); err != nil {
		return f, fmt.Errorf("after the push: %w", err)
	}
	f.storm = time.Since(start)
	f.stormGit = b.srv.requests.Load() - git0
	if s.coalesce > 0 {
		// The storm's fetches are coalesced: within each window one ref
		// listing (and, after the push, one fetch) answers every app on
		// the repository, so the requests grow with the storm's length,
		// never with its apps.
		windows := int64(f.storm/s.coalesce) + 1
		if most := 2*windows + 2; f.stormGit > most {
			return f, fmt.Errorf("the push cost %d Git requests for %d apps on one repository in %s (at most %d: two per %s window)",
				f.stormGit, opApps, seconds(f.storm), most, s.coalesce)
		}
	}
	stormed, err := scrape()
	if err != nil {
		return f, err
	}
	f.stormRequests = requests(stormed).sub(requests(resynced))
	fmt.Fprintf(os.Stderr, "bench: operator: %s: %+v\n", s.name, f)
	return f, nil
}

// waitAll waits until every app of s has been Ready at commit, for its
// current generation. An app seen Ready counts from then on: Flux sets
// Ready to Unknown at the start of each reconcile, so under load there
// is no moment when all 500 read True at once.
func (b *operatorBench) waitAll(ctx context.Context, s fleetSide, commit string, procs []*controllerProc) error {
	return b.waitEvery(ctx, s, procs, "Ready at "+commit[:min(12, len(commit))], func(obj *unstructured.Unstructured) (bool, string) {
		return readyAt(obj, commit)
	})
}

// waitEvery waits until cond has held of every app of s (what names it
// in the error).
func (b *operatorBench) waitEvery(ctx context.Context, s fleetSide, procs []*controllerProc, what string, cond func(*unstructured.Unstructured) (bool, string)) error {
	var ready int
	var last string
	seen := map[string]bool{}
	err := wait.PollUntilContextTimeout(ctx, time.Second, opReadyWithin, true, func(ctx context.Context) (bool, error) {
		for _, p := range procs {
			if err := p.alive(); err != nil {
				return false, err
			}
		}
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(s.kind.GroupVersion().WithKind(s.kind.Kind + "List"))
		if err := b.env.Client.List(ctx, list, client.InNamespace(s.ns)); err != nil {
			return false, err
		}
		for _, it := range list.Items {
			if seen[it.GetName()] {
				continue
			}
			ok, why := cond(&it)
			if ok {
				seen[it.GetName()] = true
			} else if why != "" {
				last = it.GetName() + ": " + why
			}
		}
		ready = len(seen)
		return ready == opApps, nil
	})
	if err != nil {
		return fmt.Errorf("%d of %d apps %s within %s (last not: %s): %w", ready, opApps, what, opReadyWithin, last, err)
	}
	return nil
}

// readyAt reports whether an Application or Kustomization is Ready at
// commit for its generation; both kinds write the same status fields.
func readyAt(obj *unstructured.Unstructured, commit string) (bool, string) {
	gen, _, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration")
	rev, _, _ := unstructured.NestedString(obj.Object, "status", "lastAppliedRevision")
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] != "Ready" {
			continue
		}
		if m["status"] != "True" {
			return false, fmt.Sprint(m["reason"], ": ", m["message"])
		}
		return gen == obj.GetGeneration() && strings.Contains(rev, commit), ""
	}
	return false, ""
}

func (b *operatorBench) convergeSide(ns string, serveFlux bool) fleetSide {
	s := fleetSide{name: "converge", ns: ns, kind: applicationGVK, controller: "application", coalesce: 5 * time.Second, // --fetch-coalesce's default
		requestAnnotation: "converge.dev/requested-at", release: []schema.GroupVersionKind{applicationGVK}}
	var webhookAddr string
	s.start = func(ctx context.Context) ([]*controllerProc, error) {
		metrics, err := freeAddr()
		if err != nil {
			return nil, err
		}
		if webhookAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		secret := filepath.Join(b.work, "webhook-secret")
		if err := os.WriteFile(secret, []byte(webhookSecret), 0o600); err != nil {
			return nil, err
		}
		args := []string{"--kubeconfig", b.env.Kubeconfig, "--metrics-bind-address", metrics, "--health-probe-bind-address", "0",
			"--webhook-bind-address", webhookAddr, "--webhook-secret-file", secret,
			"--concurrency", fmt.Sprint(opConcurrency), "--zap-log-level", "error"}
		if serveFlux {
			args = append(args, "--serve-flux")
		}
		p, err := startProc(ctx, b.work, "operator-"+ns, b.opBin, metrics, args, nil)
		if err != nil {
			return nil, err
		}
		return []*controllerProc{p}, nil
	}
	if serveFlux {
		s.name, s.kind, s.controller = "converge --serve-flux", kustomizationGVK, "flux-kustomization"
		s.release = []schema.GroupVersionKind{kustomizationGVK, gitRepositoryGVK}
		s.create = func(ctx context.Context) error { return b.createFlux(ctx, ns) }
		return s
	}
	s.create = func(ctx context.Context) error {
		return createAll(ctx, b.env.Client, opApps, func(i int) *unstructured.Unstructured {
			return &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": applicationGVK.GroupVersion().String(), "kind": applicationGVK.Kind,
				"metadata": map[string]any{"name": opAppName(i), "namespace": ns},
				"spec": map[string]any{
					"source":      map[string]any{"repoURL": b.url, "targetRevision": "main", "path": "apps/" + opAppName(i)},
					"destination": map[string]any{"namespace": ns},
					"syncPolicy":  map[string]any{"prune": true},
					"wait":        true,
					"interval":    opInterval.String(),
				},
			}}
		})
	}
	s.trigger = func(ctx context.Context, commit string) error {
		body, err := json.Marshal(map[string]any{
			"ref": "refs/heads/main", "after": commit,
			"repository": map[string]string{"clone_url": b.url},
		})
		if err != nil {
			return err
		}
		mac := hmac.New(sha256.New, []byte(webhookSecret))
		mac.Write(body)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+webhookAddr+"/hooks/git", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Gitea-Event", "push")
		req.Header.Set("X-Gitea-Signature", hex.EncodeToString(mac.Sum(nil)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("webhook: %s", resp.Status)
		}
		return nil
	}
	return s
}

func (b *operatorBench) fluxSide(ns string) fleetSide {
	s := fleetSide{name: "flux", ns: ns, kind: kustomizationGVK, controller: "kustomization",
		requestAnnotation: "reconcile.fluxcd.io/requestedAt", release: []schema.GroupVersionKind{kustomizationGVK, gitRepositoryGVK}}
	s.start = func(ctx context.Context) ([]*controllerProc, error) {
		env := []string{"KUBECONFIG=" + b.env.Kubeconfig}
		srcMetrics, err := freeAddr()
		if err != nil {
			return nil, err
		}
		storage, err := freeAddr()
		if err != nil {
			return nil, err
		}
		storageDir := filepath.Join(b.work, "flux-storage")
		if err := os.MkdirAll(storageDir, 0o755); err != nil {
			return nil, err
		}
		src, err := startProc(ctx, b.work, "source-controller", filepath.Join(b.flux, "source-controller"), srcMetrics, []string{
			"--metrics-addr", srcMetrics, "--health-addr", "127.0.0.1:0", "--events-addr=",
			"--storage-path", storageDir, "--storage-addr", storage, "--storage-adv-addr", storage,
			"--log-level", "error"}, env)
		if err != nil {
			return nil, err
		}
		kMetrics, err := freeAddr()
		if err != nil {
			src.stop()
			return nil, err
		}
		kc, err := startProc(ctx, b.work, "kustomize-controller", filepath.Join(b.flux, "kustomize-controller"), kMetrics, []string{
			"--metrics-addr", kMetrics, "--health-addr", "127.0.0.1:0", "--events-addr=",
			"--concurrent", fmt.Sprint(opConcurrency), "--log-level", "error"}, env)
		if err != nil {
			src.stop()
			return nil, err
		}
		return []*controllerProc{src, kc}, nil
	}
	s.create = func(ctx context.Context) error { return b.createFlux(ctx, ns) }
	s.trigger = func(ctx context.Context, _ string) error {
		// What notification-controller's Receiver does with a push event.
		patch := fmt.Sprintf(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":%q}}}`, time.Now().Format(time.RFC3339Nano))
		repo := &unstructured.Unstructured{}
		repo.SetGroupVersionKind(gitRepositoryGVK)
		repo.SetNamespace(ns)
		repo.SetName("fleet")
		return b.env.Client.Patch(ctx, repo, client.RawPatch(types.MergePatchType, []byte(patch)))
	}
	return s
}

// createFlux creates the GitRepository of the fleet and one Kustomization
// per app in ns, as a Flux user writes them.
func (b *operatorBench) createFlux(ctx context.Context, ns string) error {
	repo := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": gitRepositoryGVK.GroupVersion().String(), "kind": gitRepositoryGVK.Kind,
		"metadata": map[string]any{"name": "fleet", "namespace": ns},
		"spec":     map[string]any{"url": b.url, "interval": opSourceEvery.String(), "ref": map[string]any{"branch": "main"}},
	}}
	if err := b.env.Client.Create(ctx, repo); err != nil {
		return fmt.Errorf("create GitRepository: %w", err)
	}
	return createAll(ctx, b.env.Client, opApps, func(i int) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": kustomizationGVK.GroupVersion().String(), "kind": kustomizationGVK.Kind,
			"metadata": map[string]any{"name": opAppName(i), "namespace": ns},
			"spec": map[string]any{
				"interval":        opInterval.String(),
				"sourceRef":       map[string]any{"kind": "GitRepository", "name": "fleet"},
				"path":            "./apps/" + opAppName(i),
				"prune":           true,
				"wait":            true,
				"timeout":         "2m",
				"targetNamespace": ns,
			},
		}}
	})
}

// createAll creates n objects, eight at a time, as a GitOps bootstrap or
// kubectl apply of a folder of them does.
func createAll(ctx context.Context, c client.Client, n int, obj func(i int) *unstructured.Unstructured) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range n {
		g.Go(func() error {
			o := obj(i)
			if err := c.Create(ctx, o); err != nil {
				return fmt.Errorf("create %s %s: %w", o.GetKind(), o.GetName(), err)
			}
			return nil
		})
	}
	return g.Wait()
}

// annotateAll sets annotation to value on every object of gvk in ns, as
// `kubectl annotate --all` does.
func annotateAll(ctx context.Context, c client.Client, gvk schema.GroupVersionKind, ns, annotation, value string) error {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
		return err
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{annotation: value}}})
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range list.Items {
		obj := &list.Items[i]
		g.Go(func() error {
			if err := c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch)); err != nil {
				return fmt.Errorf("annotate %s %s: %w", gvk.Kind, obj.GetName(), err)
			}
			return nil
		})
	}
	return g.Wait()
}

// releaseAll deletes every object of gvk in ns without its finalizers
// running: what they applied stays.
func releaseAll(ctx context.Context, c client.Client, gvk schema.GroupVersionKind, ns string) error {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range list.Items {
		obj := &list.Items[i]
		g.Go(func() error {
			if len(obj.GetFinalizers()) > 0 {
				if err := c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`))); client.IgnoreNotFound(err) != nil {
					return err
				}
			}
			return client.IgnoreNotFound(c.Delete(ctx, obj))
		})
	}
	return g.Wait()
}

// sameObjects compares the ConfigMaps the two namespaces hold, by name,
// data and the labels the repository sets, and returns how many match.
func sameObjects(ctx context.Context, c client.Client, a, b string) (int, error) {
	read := func(ns string) (map[string]string, error) {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMapList"})
		if err := c.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{"bench": "operator"}); err != nil {
			return nil, err
		}
		out := map[string]string{}
		for _, it := range list.Items {
			data, _, _ := unstructured.NestedStringMap(it.Object, "data")
			out[it.GetName()] = fmt.Sprint(data, it.GetLabels()["app"])
		}
		return out, nil
	}
	x, err := read(a)
	if err != nil {
		return 0, err
	}
	y, err := read(b)
	if err != nil {
		return 0, err
	}
	if len(x) != opApps*opObjects || len(y) != len(x) {
		return 0, fmt.Errorf("%s holds %d ConfigMaps of the fleet, %s %d; want %d", a, len(x), b, len(y), opApps*opObjects)
	}
	for name, v := range x {
		if y[name] != v {
			return 0, fmt.Errorf("ConfigMap %s: %s in %s, %s in %s", name, v, a, y[name], b)
		}
	}
	return len(x), nil
}

// installCRDFiles creates the CRDs of every YAML file in dirs (but their
// kustomization.yaml) and waits until they are Established.
func installCRDFiles(ctx context.Context, c client.Client, dirs []string) error {
	var names []string
	for _, d := range dirs {
		files, err := filepath.Glob(filepath.Join(d, "*.yaml"))
		if err != nil {
			return err
		}
		for _, f := range files {
			if filepath.Base(f) == "kustomization.yaml" {
				continue
			}
			data, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			objs, err := object.DecodeBytes(data, object.DefaultDecodeOptions())
			if err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			for _, o := range objs {
				if err := c.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
					return fmt.Errorf("%s: create %s: %w", f, o.GetName(), err)
				}
				names = append(names, o.GetName())
			}
		}
	}
	for _, name := range names {
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			crd := &unstructured.Unstructured{}
			crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
			if err := c.Get(ctx, types.NamespacedName{Name: name}, crd); err != nil {
				return false, nil
			}
			ok, _ := readyCondition(crd, "Established")
			return ok, nil
		})
		if err != nil {
			return fmt.Errorf("CRD %s not Established: %w", name, err)
		}
	}
	return nil
}

func readyCondition(obj *unstructured.Unstructured, typ string) (bool, string) {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		if m, _ := c.(map[string]any); m["type"] == typ {
			return m["status"] == "True", fmt.Sprint(m["message"])
		}
	}
	return false, ""
}

// script runs one of the checkout's build scripts and returns its stdout.
func script(ctx context.Context, root string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "bash", args...)
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}
