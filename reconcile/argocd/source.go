package argocd

import (
	"path"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/reconcile/internal/manifest"
	"github.com/converge-dev/converge/source/git"
)

// sources reads spec.source, or spec.sources when it holds one source, or
// a chart and a ref: source of the same repository and revision.
func (l *loader) sources(d *manifest.Doc, spec *manifest.Node, u *reconcile.Unit) {
	switch {
	case spec.Present("source") && spec.Present("sources"):
		d.Fail(spec.At("sources"), ErrInvalid, "spec.source and spec.sources are both set (Argo CD ignores source then); keep one")
		spec.Accept("source")
	case spec.Present("sources"):
		l.multiSource(d, spec, u)
	case spec.Present("source"):
		l.source(d, spec.Obj("source"), u, nil)
	default:
		d.Fail(spec.At("source"), ErrInvalid, "required")
		spec.Accept("source", "sources")
	}
}

// multiSource maps the forms of spec.sources one unit can hold: a single
// source, or a source and a ref: source of the same repository at the same
// revision, whose $ref/ value files are files of that repository.
func (l *loader) multiSource(d *manifest.Doc, spec *manifest.Node, u *reconcile.Unit) {
	list := spec.Objs("sources")
	if len(list) == 1 {
		l.source(d, list[0], u, nil)
		return
	}
	var app *manifest.Node
	refs := map[string]bool{}
	var refNodes []*manifest.Node
	for _, s := range list {
		if isRefOnly(s) {
			refNodes = append(refNodes, s)
			refs[s.Str("ref")] = true
			continue
		}
		if app != nil {
			d.Fail(spec.At("sources"), ErrUnsupported, "several sources in one Application are not supported: a unit fetches one repository at one revision (only a source plus ref: sources of the same repository and revision map)")
			for _, s := range list {
				s.Accept(keysOf(s.Map())...)
			}
			return
		}
		app = s
	}
	if app == nil {
		d.Fail(spec.At("sources"), ErrInvalid, "no source renders anything: every source is only a ref:")
		return
	}
	repo, rev := str(app.Map()["repoURL"]), str(app.Map()["targetRevision"])
	for _, r := range refNodes {
		if reconcile.SourceIdentity(r.Str("repoURL")) != reconcile.SourceIdentity(repo) || cmpRev(r.Str("targetRevision")) != cmpRev(rev) {
			d.Fail(r.Path(), ErrUnsupported, "a ref: source of another repository or revision than %s: a unit fetches one repository at one revision", app.Path())
		}
		r.Str("targetRevision")
		r.Inform("name", "a source name is shown by Argo CD; converge does not use it")
	}
	l.source(d, app, u, refs)
}

// isRefOnly reports a source that only names a repository for $ref value
// files.
func isRefOnly(s *manifest.Node) bool {
	if _, ok := s.Map()["ref"]; !ok {
		return false
	}
	for k := range s.Map() {
		switch k {
		case "repoURL", "targetRevision", "ref", "name":
		default:
			return false
		}
	}
	return true
}

func cmpRev(r string) string {
	if r == "" {
		return "HEAD"
	}
	return r
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// source reads one source; refs are the names $ref/ value files may use.
func (l *loader) source(d *manifest.Doc, s *manifest.Node, u *reconcile.Unit, refs map[string]bool) {
	if s.Present("chart") {
		s.Refuse("chart", "Helm repository charts are not supported: converge renders charts from Git; vendor the chart into the repository (helm pull --untar) and set path to it")
		s.Accept("repoURL", "targetRevision")
		return
	}
	repo := s.Str("repoURL")
	if repo == "" {
		d.Fail(s.At("repoURL"), ErrInvalid, "required")
	} else if _, err := git.ParseURL(repo, true); err != nil {
		d.Fail(s.At("repoURL"), ErrUnsupported, "%v", err)
	}
	u.Source.URL = repo
	u.Source.Ref = l.revision(d, s.At("targetRevision"), repo, s.Str("targetRevision"))
	u.Path = cleanPath(s.Str("path"))
	if outside(u.Path) {
		d.Fail(s.At("path"), ErrInvalid, "%q leaves the repository: a path is relative to its root, inside it", manifest.Short(u.Path))
	}
	if s.Present("plugin") {
		l.plugin(d, s.Obj("plugin"), u)
	}
	s.Inform("name", "a source name is shown by Argo CD; converge does not use it")
	if s.Present("ref") && refs == nil {
		s.Inform("ref", "names the source for other sources' $ref value files; an Application with one source has none")
	}
	s.Accept("ref")

	types := 0
	for _, k := range []string{"helm", "kustomize", "directory", "plugin"} {
		if s.Present(k) {
			types++
		}
	}
	if types > 1 {
		d.Fail(s.Path(), ErrInvalid, "several source types (helm, kustomize, directory, plugin) are set; Argo CD refuses that too")
	}
	if s.Present("helm") {
		u.Render.Kind = reconcile.RenderHelm
		l.helm(d, s.Obj("helm"), u, refs)
	} else if len(refs) > 0 {
		d.Fail(s.Path(), ErrInvalid, "ref: sources are only used by helm.valueFiles, and this source has no helm")
	}
	if s.Present("kustomize") {
		u.Render.Kind = reconcile.RenderKustomize
		l.kustomize(d, s.Obj("kustomize"), u)
	}
	if s.Present("directory") {
		u.Render.Kind = reconcile.RenderPlain
		l.directory(d, s.Obj("directory"), u)
	}
}

// plugin reads the argocd-vault-plugin config management plugins, as
// their docs name them: converge renders the path itself and resolves the
// plugin's placeholders through the Reconciler's stores. Other plugins
// run programs converge does not have, and are refused.
func (l *loader) plugin(d *manifest.Doc, p *manifest.Node, u *reconcile.Unit) {
	switch name := p.Str("name"); name {
	case "argocd-vault-plugin": // plain manifests, or a kustomization, by what the path holds
	case "argocd-vault-plugin-kustomize":
		u.Render.Kind = reconcile.RenderKustomize
	case "argocd-vault-plugin-helm":
		u.Render.Kind = reconcile.RenderHelm
	default:
		d.Fail(p.At("name"), ErrUnsupported, "config management plugin %q is not supported: converge runs no plugins (the argocd-vault-plugin ones it does itself)", manifest.Short(name))
		return
	}
	u.Render.ResolveReferences = true
	p.Refuse("env", "plugin env is not supported: converge renders the path itself (set Helm values in the chart's values files)")
	p.Refuse("parameters", "plugin parameters are not supported")
}

// cleanPath makes a source path the unit's: slash-separated, relative,
// "" for the root.
func cleanPath(p string) string {
	if p == "" {
		return ""
	}
	p = path.Clean(p)
	if p == "." {
		return ""
	}
	return p
}

// outside reports a cleaned path that is absolute or climbs out.
func outside(p string) bool {
	return strings.HasPrefix(p, "/") || p == ".." || strings.HasPrefix(p, "../")
}

// revision maps a targetRevision to a git.Reference, reading it as Argo CD
// does: HEAD (or nothing) is the default branch, a semver constraint that
// is not a plain version is a range over the tags, a 40-hex-digit string a
// commit, refs/... a reference name, and any other name a branch or a tag.
func (l *loader) revision(d *manifest.Doc, p, repo, rev string) git.Reference {
	if rev == "" || rev == "HEAD" {
		if l.opts.DefaultBranch != "" {
			return git.Reference{Branch: l.opts.DefaultBranch}
		}
		d.Warn(p, "HEAD (the default) is the remote's default branch, which converge does not ask for: it fetches branch \"main\"; write the branch if it is another (or set Options.DefaultBranch)")
		return git.Reference{}
	}
	ref, err := l.reference(repo, rev)
	if err == nil {
		err = ref.Validate()
	}
	if err != nil {
		d.Fail(p, ErrUnsupported, "%v", err)
		return git.Reference{}
	}
	return ref
}

func (l *loader) reference(repo, rev string) (git.Reference, error) {
	// Argo CD reads a constraint that is not a plain version as a range.
	if _, err := semver.NewVersion(rev); err != nil {
		if _, err := semver.NewConstraint(rev); err == nil {
			return git.Reference{SemVer: rev}, nil
		}
	}
	cands, err := git.RemoteReferences(rev)
	if err != nil {
		return git.Reference{}, err
	}
	if len(cands) == 1 {
		return cands[0], nil
	}
	if l.opts.ResolveRevision != nil {
		return l.opts.ResolveRevision(repo, cands)
	}
	// A branch or a tag: a version is a tag, anything else a branch
	// (where both exist, Argo CD takes the branch).
	if _, err := semver.StrictNewVersion(strings.TrimPrefix(rev, "v")); err == nil {
		return git.Reference{Tag: rev}, nil
	}
	return git.Reference{Branch: rev}, nil
}

// directory reads source.directory: plain manifests.
func (l *loader) directory(d *manifest.Doc, n *manifest.Node, u *reconcile.Unit) {
	u.Render.Recurse = n.Bool("recurse")
	j := n.Obj("jsonnet")
	for _, k := range []string{"extVars", "tlas", "libs"} {
		if len(j.List(k)) > 0 {
			d.Fail(j.At(k), ErrUnsupported, "Jsonnet is not supported: render it to YAML in CI and commit the output")
		}
	}
	include, exclude := n.Str("include"), n.Str("exclude")
	var ignore []string
	if include != "" {
		pats, err := globPatterns(include)
		if err != nil {
			d.Fail(n.At("include"), ErrUnsupported, "%v", err)
		}
		// Leave out every file, keep the directories, then take back the
		// included files.
		ignore = append(ignore, "*", "!*/")
		for _, p := range pats {
			ignore = append(ignore, "!"+p)
		}
	}
	if exclude != "" {
		pats, err := globPatterns(exclude)
		if err != nil {
			d.Fail(n.At("exclude"), ErrUnsupported, "%v", err)
		}
		ignore = append(ignore, pats...) // after include: exclude wins, as in Argo CD
	}
	u.Render.Options.Ignore = append(u.Render.Options.Ignore, ignore...)
}
