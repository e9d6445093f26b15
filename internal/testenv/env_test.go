package testenv_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"

	"github.com/converge-dev/converge/internal/testenv"
	"github.com/converge-dev/converge/object"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	if os.Getenv("TESTENV_CRASH_CHILD") == "1" {
		crashChild()
	}
	testenv.Main(m, testenv.Options{Mode: testenv.Bare}, &env)
}

func TestAPIServerReportsItsRealVersion(t *testing.T) {
	dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	require.NoError(t, err)
	v, err := dc.ServerVersion()
	require.NoError(t, err)
	assert.Equal(t, "v1.37.2", v.GitVersion)
	assert.Equal(t, "1", v.Major)
	assert.Equal(t, "37", v.Minor)
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 2
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
      - name: api
        image: registry.example/api:1.4.2
        ports:
        - containerPort: 8080
`

// TestServerSideApplyDeployment applies a Deployment decoded by object.Decode
// and reads it back with server defaults and converge's managed fields.
func TestServerSideApplyDeployment(t *testing.T) {
	ns := env.Namespace(t)
	objs, err := object.DecodeBytes([]byte(deployment), object.DecodeOptions{Source: "deploy.yaml"})
	require.NoError(t, err)
	require.Len(t, objs, 1)
	desired := objs[0]
	desired.SetNamespace(ns)

	dyn, err := dynamic.NewForConfig(env.Config)
	require.NoError(t, err)
	res := dyn.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}).Namespace(ns)
	ctx := context.Background()
	applied, err := res.Apply(ctx, "api", desired, metav1.ApplyOptions{FieldManager: object.FieldManager, Force: true})
	require.NoError(t, err)

	live, err := res.Get(ctx, "api", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, applied.GetResourceVersion(), live.GetResourceVersion())
	containers, _, _ := unstructured.NestedSlice(live.Object, "spec", "template", "spec", "containers")
	require.Len(t, containers, 1)
	image, _, _ := unstructured.NestedString(containers[0].(map[string]any), "image")
	assert.Equal(t, "registry.example/api:1.4.2", image)
	strategy, _, _ := unstructured.NestedString(live.Object, "spec", "strategy", "type")
	assert.Equal(t, "RollingUpdate", strategy, "the server defaulted the strategy")

	var managers []string
	for _, mf := range live.GetManagedFields() {
		managers = append(managers, mf.Manager+"/"+string(mf.Operation))
	}
	assert.Contains(t, managers, "converge/Apply")

	// An unchanged re-apply is a no-op: same resourceVersion.
	again, err := res.Apply(ctx, "api", desired, metav1.ApplyOptions{FieldManager: object.FieldManager, Force: true})
	require.NoError(t, err)
	assert.Equal(t, live.GetResourceVersion(), again.GetResourceVersion())
}

// TestStopLeavesNoProcess starts a second plane and checks that Stop ends
// every process it started.
func TestStopLeavesNoProcess(t *testing.T) {
	before := children(t)
	e, err := testenv.Start(testenv.Options{Mode: testenv.Bare})
	require.NoError(t, err)
	started := without(children(t), before)
	require.NotEmpty(t, started, "the plane runs processes")
	require.NoError(t, e.Stop())
	require.NoError(t, e.Stop(), "Stop is idempotent")
	for _, pid := range started {
		assert.False(t, alive(pid), "pid %d still running after Stop", pid)
	}
}

// TestCrashLeavesNoProcess runs a child test binary that starts a plane and
// exits without stopping it, as a panicking test would; the watchdog must
// kill the plane.
func TestCrashLeavesNoProcess(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "TESTENV_CRASH_CHILD=1")
	out, err := cmd.Output()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr, "the child exits with an error: %s", out)
	var pids []int
	for _, f := range strings.Fields(strings.TrimPrefix(strings.TrimSpace(string(out)), "pids:")) {
		pid, err := strconv.Atoi(f)
		require.NoError(t, err, "child output %q", out)
		pids = append(pids, pid)
	}
	require.NotEmpty(t, pids)
	deadline := time.Now().Add(15 * time.Second)
	for _, pid := range pids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		assert.False(t, alive(pid), "pid %d survived the crash of its test binary", pid)
	}
}

func crashChild() {
	if _, err := testenv.Start(testenv.Options{Mode: testenv.Bare}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	var pids []string
	for _, pid := range childPIDs() {
		pids = append(pids, strconv.Itoa(pid))
	}
	fmt.Println("pids:", strings.Join(pids, " "))
	os.Exit(2) // no Stop
}

func children(t *testing.T) []int {
	t.Helper()
	return childPIDs()
}

// childPIDs lists direct children of this process, as testenv's own
// watchdog does.
func childPIDs() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if ppid, _ := strconv.Atoi(f[1]); ppid == os.Getpid() {
			pids = append(pids, pid)
		}
	}
	return pids
}

func without(all, known []int) []int {
	var out []int
	for _, p := range all {
		found := false
		for _, k := range known {
			found = found || k == p
		}
		if !found {
			out = append(out, p)
		}
	}
	return out
}

// alive reports whether pid runs and is not a zombie.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}
