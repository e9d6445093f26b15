// Package diff compares desired objects with live ones under
// server-side-apply semantics, the way the API server would apply them for
// converge's field manager. It is pure: objects in, verdicts out. What it
// needs from a cluster (OpenAPI schemas, an optional dry-run) it declares as
// small interfaces that package cluster satisfies.
//
//	d, err := diff.New(client, diff.WithDryRun(client))
//	res, err := d.Diff(ctx, desired, live) // live from a watch cache, or nil
//	switch res.Action {
//	case diff.Create, diff.Update:
//		fmt.Print(res.Diff) // unified YAML diff, Secret values masked
//	case diff.Unchanged:
//	}
//
// # Semantics
//
// A field another manager changed that converge owns is drift; a field
// converge never set (an HPA's replicas, server defaults) is not. Values the
// server canonicalizes (quantities, empty versus absent fields, Secret
// stringData) compare equal. [IgnoreRule]s exclude fields by path, JSON
// pointer or owning manager; [DefaultIgnoreRules] documents the built-in
// ones.
//
// # Cost
//
// After converge applies an object it keeps a [Receipt]: the object's UID,
// the hash of the desired object, and converge's managedFields entry from
// the apply response. The API server keeps that entry byte-identical until
// someone changes a field converge owns, so when the hash, the UID and the
// entry in the watched live object all match, the object is unchanged:
// exact, and no request and no merge. Otherwise a local merge with
// k8s.io/apimachinery's field manager answers; when that is uncertain (no
// schema, or only ownership differs) a server-side dry-run settles it, once
// per desired hash and live resourceVersion.
package diff
