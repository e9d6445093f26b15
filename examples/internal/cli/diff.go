package cli

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render/kustomize"
	"github.com/converge-dev/converge/source"
)

// stringsFlag is a repeatable flag that also takes comma-separated values.
type stringsFlag []string

func (s *stringsFlag) String() string { return strings.Join(*s, ",") }

func (s *stringsFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

func runDiff(ctx context.Context, args []string, out *output) error {
	fs := flagSet("diff")
	repo := fs.String("repo", "", "Git URL (https, http, ssh, file) or local Git repository")
	base := fs.String("base", "", "revision to compare from: branch, tag or full commit hash")
	head := fs.String("head", "", "revision to compare to: branch, tag or full commit hash")
	var paths stringsFlag
	fs.Var(&paths, "path", "environment directory to compare, repeatable or comma-separated (default: every directory under clusters/ with a kustomization)")
	exitCode := fs.Bool("exit-code", false, "exit with 3 when anything changes")
	if err := parse(fs, args, out, "Usage: converge diff --repo URL|DIR --base REV --head REV [--path DIR]...\n\nRenders both revisions of each environment and prints what would change in it, as YAML\ndiffs with Secret values masked. Needs no cluster: a preview for pull requests."); err != nil {
		return err
	}
	if *base == "" || *head == "" {
		return usagef("--base and --head are both required")
	}
	for i, p := range paths {
		clean, err := checkPath(p)
		if err != nil {
			return err
		}
		paths[i] = clean
	}
	baseSrc, err := openRepo(*repo, *base, true)
	if err != nil {
		return err
	}
	headSrc, err := openRepo(*repo, *head, true)
	if err != nil {
		return err
	}
	baseSnap, err := baseSrc.Fetch(ctx)
	if err != nil {
		return err
	}
	headSnap, err := headSrc.Fetch(ctx)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		paths = environments(baseSnap.FS, headSnap.FS)
		if len(paths) == 0 {
			return fmt.Errorf("no environments under clusters/ at either revision: pass --path")
		}
	}
	r := kustomize.New(kustomize.WithCache(kustomize.NewCache()))
	type envSets struct {
		path     string
		from, to *object.Set
	}
	var envs []envSets
	for _, p := range paths {
		from, err := renderIfPresent(ctx, r, baseSnap, p)
		if err != nil {
			return err
		}
		to, err := renderIfPresent(ctx, r, headSnap, p)
		if err != nil {
			return err
		}
		if from == nil && to == nil {
			return fmt.Errorf("path %s does not exist at %s nor at %s", p, shortRevision(baseSnap.Revision), shortRevision(headSnap.Revision))
		}
		envs = append(envs, envSets{p, from, to})
	}
	out.printf("diff: %s → %s", shortRevision(baseSnap.Revision), shortRevision(headSnap.Revision))
	changedEnvs, total := 0, 0
	for _, e := range envs {
		if n := printEnvDiff(out, e.path, e.from, e.to); n > 0 {
			changedEnvs++
			total += n
		}
	}
	out.printf("Diff: %s in %s of %d.", plural(total, "object changes", "objects change"), plural(changedEnvs, "environment", "environments"), len(paths))
	if *exitCode && total > 0 {
		return &exitError{code: ExitChanges}
	}
	return nil
}

// environments lists the directories directly under clusters/ that hold a
// kustomization, at either revision.
func environments(fsyss ...fs.FS) []string {
	seen := map[string]bool{}
	var out []string
	for _, fsys := range fsyss {
		entries, err := fs.ReadDir(fsys, "clusters")
		if err != nil {
			continue
		}
		for _, e := range entries {
			p := "clusters/" + e.Name()
			if !e.IsDir() || seen[p] || !hasKustomization(fsys, p) {
				continue
			}
			seen[p] = true
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

func hasKustomization(fsys fs.FS, dir string) bool {
	for _, name := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if _, err := fs.Stat(fsys, path.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

// renderIfPresent renders p, or returns nil when p does not exist at that
// revision (an environment added or removed).
func renderIfPresent(ctx context.Context, r *kustomize.Renderer, snap *source.Snapshot, p string) (*object.Set, error) {
	if info, err := fs.Stat(snap.FS, p); err != nil || !info.IsDir() {
		return nil, nil
	}
	return renderPath(ctx, r, snap, p)
}

// printEnvDiff prints what changes in one environment and returns how many
// objects do.
func printEnvDiff(out *output, env string, from, to *object.Set) int {
	if from == nil {
		from = object.NewSet()
	}
	if to == nil {
		to = object.NewSet()
	}
	type change struct {
		mark string
		id   object.ID
		diff string
	}
	var changes []change
	added, updated, removed := 0, 0, 0
	for id, obj := range to.All() {
		old, ok := from.Get(id)
		a, b := maskSecrets(old, obj)
		d := unified(env, id, a, b)
		switch {
		case !ok:
			added++
			changes = append(changes, change{"+ add", id, d})
		case d != "":
			updated++
			changes = append(changes, change{"~ update", id, d})
		}
	}
	for id := range from.All() {
		if _, ok := to.Get(id); !ok {
			removed++
			changes = append(changes, change{"- remove", id, ""})
		}
	}
	if len(changes) == 0 {
		out.printf("%s: no changes (%d objects)", env, to.Len())
		return 0
	}
	out.printf("%s: %d to add, %d to update, %d to remove", env, added, updated, removed)
	for _, c := range changes {
		out.printf("  %-9s %s", c.mark, c.id)
		out.block("      ", c.diff)
	}
	return len(changes)
}

// unified diffs two objects as YAML; nil is empty.
func unified(env string, id object.ID, a, b *unstructured.Unstructured) string {
	text := func(obj *unstructured.Unstructured) string {
		if obj == nil {
			return ""
		}
		var buf bytes.Buffer
		if err := object.Encode(&buf, obj); err != nil {
			return fmt.Sprintf("# cannot encode: %v\n", err)
		}
		return buf.String()
	}
	at, bt := text(a), text(b)
	if at == bt {
		return ""
	}
	lines := func(s string) []string {
		if s == "" {
			return nil
		}
		return difflib.SplitLines(s)
	}
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: lines(at), B: lines(bt),
		FromFile: "base/" + env + " " + id.String(), ToFile: "head/" + env + " " + id.String(),
		Context: 3,
	})
	if err != nil {
		return fmt.Sprintf("# cannot diff: %v\n", err)
	}
	return d
}

// masked is what a Secret value is shown as; a value that differs between
// the revisions is marked, so a diff still says that it changed.
const (
	masked        = "***"
	maskedChanged = "*** (changed)"
)

// maskSecrets returns copies of a Secret's two revisions with every value
// of data and stringData replaced; other kinds are returned as they are.
func maskSecrets(base, head *unstructured.Unstructured) (*unstructured.Unstructured, *unstructured.Unstructured) {
	isSecret := func(o *unstructured.Unstructured) bool {
		return o != nil && o.GroupVersionKind().Group == "" && o.GetKind() == "Secret"
	}
	if !isSecret(base) && !isSecret(head) {
		return base, head
	}
	values := func(o *unstructured.Unstructured, field string) map[string]any {
		if o == nil {
			return nil
		}
		m, _, _ := unstructured.NestedMap(o.Object, field)
		return m
	}
	mask := func(o *unstructured.Unstructured, other *unstructured.Unstructured, changedMark string) *unstructured.Unstructured {
		if !isSecret(o) {
			return o
		}
		o = o.DeepCopy()
		for _, field := range []string{"data", "stringData"} {
			mine, theirs := values(o, field), values(other, field)
			if mine == nil {
				continue
			}
			for k, v := range mine {
				if tv, ok := theirs[k]; ok && tv != v && other != nil {
					mine[k] = changedMark
				} else {
					mine[k] = masked
				}
			}
			_ = unstructured.SetNestedMap(o.Object, mine, field)
		}
		return o
	}
	return mask(base, head, masked), mask(head, base, maskedChanged)
}

// plural says "1 object changes" or "3 objects change".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
