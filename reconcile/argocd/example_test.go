package argocd_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/go-logr/logr"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/reconcile/argocd"
)

// An Application as Argo CD's docs write it becomes a unit; what converge
// does differently is a warning, by path.
func ExampleLoad() {
	res, err := argocd.Load(strings.NewReader(`
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: guestbook
  namespace: argocd
  finalizers: [resources-finalizer.argocd.argoproj.io]
spec:
  project: default
  source:
    repoURL: https://github.com/argoproj/argocd-example-apps.git
    targetRevision: master
    path: guestbook
  destination:
    server: https://kubernetes.default.svc
    namespace: guestbook
  syncPolicy:
    automated: {prune: true, selfHeal: true}
    syncOptions: [CreateNamespace=true, ServerSideApply=true]
`), argocd.DefaultOptions())
	if err != nil {
		fmt.Println(err)
		return
	}
	u := res.Units[0]
	fmt.Println(u.Ref(), u.Source.URL, u.Source.Ref, u.Path)
	fmt.Printf("prune=%v selfHeal=%v createNamespace=%v\n", u.Sync.Prune, u.Sync.SelfHeal, u.Sync.CreateNamespace)
	_, cascade := res.Cascade(u.Ref())
	fmt.Println("deleting the Application deletes its objects:", cascade)
	for _, w := range res.Warnings {
		fmt.Println(w)
	}
	// Output:
	// argocd/guestbook https://github.com/argoproj/argocd-example-apps.git master guestbook
	// prune=true selfHeal=true createNamespace=true
	// deleting the Application deletes its objects: true
	// Application argocd/guestbook: spec.syncPolicy.syncOptions[1]: converge always applies server-side
}

// A field converge cannot honour refuses the document, by name.
func ExampleLoad_refused() {
	_, err := argocd.Load(strings.NewReader(`
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: redis}
spec:
  source: {repoURL: "https://charts.bitnami.com/bitnami", chart: redis, targetRevision: 19.0.1}
  destination: {server: "https://kubernetes.default.svc", namespace: redis}
`), argocd.DefaultOptions())
	fmt.Println(err)
	// Output:
	// Application argocd/redis: spec.source.chart: Helm repository charts are not supported: converge renders charts from Git; vendor the chart into the repository (helm pull --untar) and set path to it
}

// The units of a file, handed to a host's Loop, as the package overview
// does. (Compiled, not run: it needs a cluster.)
func ExampleLoad_loop() {
	log := logr.Discard() // the host's logger
	restConfig, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		log.Error(err, "kubeconfig")
		return
	}
	client, err := cluster.New(restConfig)
	if err != nil {
		log.Error(err, "cluster")
		return
	}
	r, err := reconcile.New(client)
	if err != nil {
		log.Error(err, "reconciler")
		return
	}
	defer r.Close()
	loop := reconcile.NewLoop(r, reconcile.DefaultLoopOptions())
	file, err := os.Open("apps/shop.yaml")
	if err != nil {
		log.Error(err, "open")
		return
	}
	defer file.Close()

	res, err := argocd.Load(file, argocd.DefaultOptions())
	if err != nil {
		log.Error(err, "load") // the document and the field's path
		return
	}
	for _, w := range res.Warnings {
		log.Info(w.String())
	}
	err = loop.Set(res.Units...)
	if err != nil {
		log.Error(err, "units")
	}
}
