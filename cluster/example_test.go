package cluster_test

import (
	"fmt"

	"github.com/converge-dev/converge/cluster"
)

// Requests snapshots say what a reconcile cost; Sub isolates one pass.
func ExampleRequests() {
	before := cluster.Requests{
		{Verb: cluster.VerbList, Resource: "configmaps"}:  1,
		{Verb: cluster.VerbWatch, Resource: "configmaps"}: 1,
	}
	after := cluster.Requests{
		{Verb: cluster.VerbList, Resource: "configmaps"}:   1,
		{Verb: cluster.VerbWatch, Resource: "configmaps"}:  1,
		{Verb: cluster.VerbPatch, Resource: "deployments"}: 2,
	}
	pass := after.Sub(before)
	fmt.Println(pass, "writes:", pass.Writes())
	// Output:
	// patch=2 writes: 2
}
