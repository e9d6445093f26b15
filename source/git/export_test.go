package git

// ResolveSubmoduleURL exposes resolveSubmoduleURL to the tests.
var ResolveSubmoduleURL = resolveSubmoduleURL

// CanonicalRevision parses a revision expression and writes it back in
// canonical form, for the parser's fuzz target.
func CanonicalRevision(expr string) (string, error) {
	r, err := parseRevision(expr)
	if err != nil {
		return "", err
	}
	return r.String(), nil
}
