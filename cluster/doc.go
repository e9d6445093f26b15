// Package cluster is converge's edge to the Kubernetes API server: a client
// that counts every request it makes, a REST mapper that refreshes itself
// when a kind is missing or CRDs change, OpenAPI v3 type converters for
// server-side-apply simulation, and a watch-backed [Cache] of live objects,
// so that reading the live state of an unchanged object costs no request.
//
//	c, err := cluster.New(restConfig)
//	cache := cluster.NewCache(c, cluster.CacheOptions{Namespaces: []string{"shop"}, IgnoreCRDChanges: true})
//	defer cache.Stop()
//	gvk := schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
//	live, err := cache.Get(ctx, gvk, "shop", "api") // starts a watch for the kind on first use
//	fmt.Println(c.Requests())                       // list=2 watch=1: discovery, then the ConfigMaps' list and watch
//	live, err = cache.Get(ctx, gvk, "shop", "api")  // from memory: no request
//	obj, found, err := cache.View().Get(ctx, object.ID{Kind: "ConfigMap", Namespace: "shop", Name: "api"})
//
// Every method that may send a request takes a context first, RESTMapping,
// ResourceFor and TypeConverter included. The Cache also watches
// CustomResourceDefinitions (unless [CacheOptions].IgnoreCRDChanges), so
// that a CRD added or changed refreshes the REST mapper and the schemas,
// and [Cache.CRD] answers from memory.
//
// The Cache's watches ask the API server not to gzip their streams
// ([WithCompressedWatches] turns it back on): the server compresses a watch
// stream event by event, which on a bulk apply of 1,000 objects added about
// a third to the API server's CPU time, and half a second of the client's.
//
// Everything else in converge that needs live data declares the small
// interface it needs (diff's schemas and dry-run, health's watch view) and
// this package satisfies it, so the pure packages never import this one.
package cluster
