package flux_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/go-logr/logr"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/reconcile/flux"
)

// A GitRepository and a Kustomization as Flux's docs write them become a
// unit.
func ExampleLoad() {
	res, err := flux.Load(strings.NewReader(`
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: podinfo
  namespace: flux-system
spec:
  interval: 5m
  url: https://github.com/stefanprodan/podinfo
  ref:
    semver: ">=6.0.0"
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: podinfo
  namespace: flux-system
spec:
  interval: 10m
  targetNamespace: default
  sourceRef:
    kind: GitRepository
    name: podinfo
  path: ./kustomize
  prune: true
  timeout: 1m
`), flux.DefaultOptions())
	if err != nil {
		fmt.Println(err)
		return
	}
	u := res.Units[0]
	fmt.Println(u.Ref(), u.Source.URL, u.Source.Ref, u.Path)
	fmt.Println("every", u.Interval, "timeout", u.Timeout, "prune", u.Sync.Prune, "into", u.Destination.TargetNamespace)
	// Output:
	// flux-system/podinfo https://github.com/stefanprodan/podinfo >=6.0.0 kustomize
	// every 5m0s timeout 1m0s prune true into default
}

// A field converge cannot honour refuses the document, by name.
func ExampleLoad_refused() {
	_, err := flux.Load(strings.NewReader(`
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: podinfo, namespace: flux-system}
spec:
  interval: 10m
  sourceRef: {kind: OCIRepository, name: podinfo}
  prune: true
`), flux.DefaultOptions())
	fmt.Println(err)
	// Output:
	// Kustomization flux-system/podinfo: spec.sourceRef.kind: OCIRepository sources are not supported: converge fetches Git repositories (GitRepository)
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
	file, err := os.Open("clusters/prod/apps.yaml")
	if err != nil {
		log.Error(err, "open")
		return
	}
	defer file.Close()

	res, err := flux.Load(file, flux.DefaultOptions())
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
