// Package testenv starts real Kubernetes control planes for converge's tests:
// etcd and kube-apiserver through controller-runtime's envtest (a bare plane),
// optionally with kube-controller-manager, kube-scheduler and kwok with fake
// nodes (a living plane, where Deployments get Pods that become Ready and Jobs
// complete). The binaries are built at pinned versions by
// hack/testbin/build.sh and cached under the user's cache directory.
//
// A test package starts one plane in TestMain and gives each test its own
// namespace:
//
//	var env *testenv.Env
//
//	func TestMain(m *testing.M) { testenv.Main(m, testenv.Options{Mode: testenv.Living}, &env) }
//
//	func TestRollout(t *testing.T) {
//		ns := env.Namespace(t)
//		_ = env.Client.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "a"}})
//	}
//
// A package whose pure tests must not wait for a plane uses a [Lazy] plane
// instead: it starts with the first test that asks for it ([Lazy.Env]),
// and [Lazy.Main] stops it.
//
// Every process the plane starts is stopped by [Env.Stop], and also when the
// test binary dies without calling it (a panic, a timeout): a watchdog process
// that holds the other end of a pipe kills them when the pipe closes.
package testenv
