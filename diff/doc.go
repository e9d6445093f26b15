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
// server canonicalizes (quantities, empty versus absent fields, empty
// versus null lists, Secret stringData) compare equal, and so do the
// defaults the server fills in after a merge, including inside values an
// apply replaces whole (a fieldRef's apiVersion, a webhook rule's scope, a
// StatefulSet's claim templates): an object just applied is Unchanged in a
// new process too, without a request. [IgnoreRule]s exclude fields by
// path, JSON pointer or owning manager; [DefaultIgnoreRules] documents the
// built-in ones. An ignored field is still sent by an apply of the whole
// object; [Differ.StripIgnored] returns the object to apply instead, without
// the ignored fields another manager owns:
//
//	send, err := d.StripIgnored(ctx, desired, live)
//	applied, err := apply(ctx, send) // the host's server-side apply
//	err = d.Record(ctx, desired, applied) // desired as rendered, for its receipt
//
// # Secrets
//
// Every diff this package renders masks Secret values. Hosts that show
// objects themselves use the same masking: [MaskSecret] and [MaskSecrets]
// for objects, [Unified] for a YAML diff of two objects (a preview of two
// revisions needs no cluster). Errors about a Secret never quote it.
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
