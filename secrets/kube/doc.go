// Package kube is a [secrets.Provider] over Kubernetes Secrets: the
// Secrets of another namespace or another cluster serve as a store, as
// External Secrets' "kubernetes" provider does.
//
// A key is "namespace/name", or "name" in the default namespace; an entry's
// properties are the Secret's data:
//
//	p := kube.New(clientset,
//		kube.WithNamespace("shared"),
//		kube.WithAllowedNamespaces("shared", "team-a"))
//	password, err := p.Value(ctx, "team-a/db", "password")
//
// # Tenancy
//
// A manifest names the key, so a tenant could name "kube-system/…".
// [WithAllowedNamespaces] confines every read and list to the namespaces
// a host allows; a refused read fails with [ErrNamespaceRefused] before any
// request is sent. The client's own RBAC is the second fence: a read the API
// server forbids fails with [ErrForbidden]. A missing Secret or property
// wraps [secrets.ErrNotFound].
//
// # Requests
//
// Every call asks the API server: nothing is cached. Map and Value send
// one GET; List pages through the namespace's Secrets (the API server
// sends their data too, which List drops at once, so the client needs the
// "list" verb, which reveals every value of the namespace).
//
// No error carries a value: errors name the store, the key and the API
// server's status.
package kube
