package git

// ResolveSubmoduleURL exposes resolveSubmoduleURL to the tests.
var ResolveSubmoduleURL = resolveSubmoduleURL
