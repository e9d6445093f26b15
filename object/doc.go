// Package object is converge's shared vocabulary for Kubernetes objects: how
// an object is named ([ID]), how a rendered set of objects is kept ([Set]),
// how manifests are read from untrusted bytes ([Decode]) and written back
// ([Encode]), the order kinds are applied in ([ClassOf], [Compare]), and the
// annotation and label keys the other packages understand.
//
// Every other converge package speaks in these types, so they are small and
// have no I/O beyond the reader and writer they are handed.
//
// # Decoding untrusted manifests
//
// Manifests come from Git repositories that converge does not control.
// [Decode] reads a multi-document YAML or JSON stream under [DecodeOptions]
// limits (total bytes, documents, nesting depth, values produced by YAML
// aliases), rejects duplicate keys and values that JSON cannot hold, skips
// empty documents and flattens List kinds:
//
//	objs, err := object.Decode(r, object.DecodeOptions{Source: "apps/api/deploy.yaml"})
//	if err != nil {
//		return err // apps/api/deploy.yaml: document 2: line 14: duplicate key "image" (first at line 13)
//	}
//
// Errors name the source, the document and the line, and never quote a value
// from the stream, so a Secret's data cannot leak through an error message.
//
// YAML handed to a parser without an alias bound (kustomize's) goes through
// [CheckAliases] first: it applies Decode's alias limit, counting only the
// values aliases produce, without building them.
//
// # Sets
//
// A [Set] keeps objects in the order they were added, keyed by [ID], and
// refuses a second object with the same ID, naming where both came from
// ([DuplicateError]):
//
//	set := object.NewSet()
//	for _, o := range objs {
//		if err := set.Add(o, "apps/api/deploy.yaml"); err != nil {
//			return err // e.g. Deployment.apps/shop/api: defined twice, in apps/web/deploy.yaml and in apps/api/deploy.yaml
//		}
//	}
//	set.Sort() // CRDs, Namespaces and cluster RBAC first, then a fixed kind order
package object
