package argocd

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/api/pkg/util"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/reconcile/internal/manifest"
	"github.com/converge-dev/converge/render"
)

// kustomize reads source.kustomize into the render overrides.
func (l *loader) kustomize(d *manifest.Doc, k *manifest.Node, u *reconcile.Unit) {
	o := &u.Render.Options
	o.NamePrefix = k.Str("namePrefix")
	o.NameSuffix = k.Str("nameSuffix")
	o.Namespace = k.Str("namespace")
	for i, s := range k.Strs("images") {
		img, err := parseImage(s)
		if err != nil {
			d.Fail(fmt.Sprintf("%s[%d]", k.At("images"), i), ErrInvalid, "%v", err)
			continue
		}
		o.Images = append(o.Images, img)
	}
	labels := k.StrMap("commonLabels")
	withoutSelector := k.Bool("labelWithoutSelector")
	if len(labels) > 0 && !withoutSelector {
		d.Fail(k.At("commonLabels"), ErrUnsupported, "converge adds common labels to metadata only, while Argo CD also adds them to selectors and pod templates unless labelWithoutSelector is true: set labelWithoutSelector: true, or move the labels into the kustomization")
	}
	if k.Bool("labelIncludeTemplates") {
		d.Fail(k.At("labelIncludeTemplates"), ErrUnsupported, "converge's common labels leave pod templates alone; move the labels into the kustomization")
	}
	o.CommonLabels = labels
	o.CommonAnnotations = k.StrMap("commonAnnotations")
	// Forcing replaces values the kustomization sets for the same keys,
	// which converge's overrides always do.
	k.Bool("forceCommonLabels")
	k.Bool("forceCommonAnnotations")
	if k.Bool("commonAnnotationsEnvsubst") {
		d.Fail(k.At("commonAnnotationsEnvsubst"), ErrUnsupported, "Argo CD's build environment is not substituted into annotations")
	}
	for _, p := range k.Objs("patches") {
		l.patch(d, p, o)
	}
	o.Components = k.Strs("components")
	if k.Bool("ignoreMissingComponents") {
		d.Warn(k.At("ignoreMissingComponents"), "a missing component fails the render instead of being skipped")
	}
	k.Refuse("replicas", "replica overrides are not supported: write replicas: in the kustomization")
	k.Inform("version", "converge renders with its built-in kustomize (sigs.k8s.io/kustomize/api v0.21), not a chosen version")
	for _, f := range []string{"kubeVersion", "apiVersions"} {
		k.Inform(f, "used by Helm charts inflated by Kustomize, which converge refuses")
	}
}

// patch reads one kustomize patch.
func (l *loader) patch(d *manifest.Doc, p *manifest.Node, o *render.Options) {
	body := p.Str("patch")
	p.Refuse("path", "patches from files are not supported here: write the patch inline, or list it in the kustomization")
	if body == "" && !p.Present("path") {
		d.Fail(p.At("patch"), ErrInvalid, "required")
	}
	opts := p.Obj("options")
	for k := range opts.Map() {
		if opts.Bool(k) {
			d.Fail(opts.At(k), ErrUnsupported, "patch options (allowNameChange, allowKindChange) are not supported")
		}
	}
	o.Patches = append(o.Patches, render.Patch{Patch: body, Target: manifest.PatchTarget(p.Obj("target"))})
}

// parseImage reads an image override as `kustomize edit set image` does:
// "name=newName:tag", "name=newName@digest", "name:tag", "name@digest".
func parseImage(arg string) (render.Image, error) {
	key, value, hasKey := strings.Cut(arg, "=")
	if !hasKey {
		key, value = "", arg
	}
	name, tag, digest := util.SplitImageName(value)
	if name == arg || name == "" || hasKey && key == "" {
		return render.Image{}, fmt.Errorf("%q is not name=newName[:tag][@digest], name:tag or name@digest", manifest.Short(arg))
	}
	img := render.Image{NewTag: tag, Digest: digest}
	if key == "" {
		img.Name = name
	} else {
		img.Name, img.NewName = key, name
	}
	return img, nil
}

// helm reads source.helm; refs are the names $ref/ value files may use.
func (l *loader) helm(d *manifest.Doc, h *manifest.Node, u *reconcile.Unit, refs map[string]bool) {
	hh := &u.Render.Helm
	hh.ReleaseName = h.Str("releaseName")
	for i, f := range h.Strs("valueFiles") {
		p := fmt.Sprintf("%s[%d]", h.At("valueFiles"), i)
		switch {
		case strings.HasPrefix(f, "$"):
			ref, rest, _ := strings.Cut(f[1:], "/")
			if !refs[ref] {
				d.Fail(p, ErrInvalid, "$%s names no ref: source of this Application", manifest.Short(ref))
				continue
			}
			// A file of the repository, from its root: relative to the chart.
			f = strings.Repeat("../", depth(u.Path)) + rest
		case strings.Contains(f, "://"):
			d.Fail(p, ErrUnsupported, "values files from URLs are not supported: commit the file")
			continue
		}
		hh.ValuesFiles = append(hh.ValuesFiles, f)
	}
	valuesText := h.Str("values")
	if h.Present("valuesObject") {
		v, _ := h.Get("valuesObject")
		m, ok := v.(map[string]any)
		if !ok {
			d.Fail(h.At("valuesObject"), ErrInvalid, "must be a mapping, not %s", manifest.TypeName(v))
		}
		hh.Values = m
		if valuesText != "" {
			d.Warn(h.At("values"), "ignored, as Argo CD does, because valuesObject is set")
		}
	} else if valuesText != "" {
		m, err := decodeValues(valuesText, l.opts.Decode)
		if err != nil {
			d.Fail(h.At("values"), ErrInvalid, "%v", err)
		}
		hh.Values = m
	}
	for _, p := range h.Objs("parameters") {
		name := p.Str("name")
		if name == "" {
			d.Fail(p.At("name"), ErrInvalid, "required")
		}
		hh.Parameters = append(hh.Parameters, reconcile.HelmParameter{Name: name, Value: p.Str("value"), ForceString: p.Bool("forceString")})
	}
	h.Refuse("fileParameters", "file parameters (--set-file) are not supported: put the file's content in values")
	hh.SkipCRDs = h.Bool("skipCrds")
	switch v := h.Str("version"); v {
	case "", "v3":
	default:
		d.Fail(h.At("version"), ErrUnsupported, "%q: converge renders with Helm v3 only", manifest.Short(v))
	}
	if h.Bool("passCredentials") {
		d.Warn(h.At("passCredentials"), "converge fetches no chart or dependency, so there are no credentials to pass")
	}
	if h.Bool("ignoreMissingValueFiles") {
		d.Warn(h.At("ignoreMissingValueFiles"), "a missing values file fails the render instead of being skipped")
	}
	if ns := h.Str("namespace"); ns != "" && ns != u.Destination.Namespace {
		d.Fail(h.At("namespace"), ErrUnsupported, "the release namespace is the destination namespace; a different one is not supported")
	}
	hh.KubeVersion = h.Str("kubeVersion")
	hh.APIVersions = h.Strs("apiVersions")
	h.Inform("skipTests", "converge always leaves chart tests out (helm template --skip-tests)")
	h.Inform("skipSchemaValidation", "converge validates values against the chart's values.schema.json; a chart whose values do not pass fails to render")
}

// depth counts the directories of a path: "a/b" is 2, "" is 0.
func depth(p string) int {
	if p == "" {
		return 0
	}
	return strings.Count(p, "/") + 1
}

var firstAt = regexp.MustCompile(`first at line (\d+)`)

// decodeValues reads Helm values written as YAML text, with the object
// package's bounded decoder: the text becomes the value of a field of a
// document, indented one level. Its errors never quote the text.
func decodeValues(text string, opts object.DecodeOptions) (map[string]any, error) {
	lines := strings.Split(text, "\n")
	var b strings.Builder
	b.Grow(len(text) + 2*len(lines) + 64)
	b.WriteString("apiVersion: v1\nkind: HelmValues\nvalues:\n")
	for i, line := range lines {
		if strings.HasPrefix(line, "---") || strings.HasPrefix(line, "...") || strings.HasPrefix(line, "%") {
			return nil, fmt.Errorf("line %d: a document marker or directive; values are one YAML mapping", i+1)
		}
		b.WriteString("  ")
		b.WriteString(line)
		b.WriteByte('\n')
	}
	opts.Source = "values"
	objs, err := object.DecodeBytes([]byte(b.String()), opts)
	if err != nil {
		var de *object.DecodeError
		if errors.As(err, &de) {
			// Lines count from the text, not from the document around it.
			msg := firstAt.ReplaceAllStringFunc(de.Err.Error(), func(m string) string {
				n, _ := strconv.Atoi(firstAt.FindStringSubmatch(m)[1])
				return fmt.Sprintf("first at line %d", n-3)
			})
			if de.Line > 3 {
				msg = fmt.Sprintf("line %d: %s", de.Line-3, msg)
			}
			return nil, errors.New(msg)
		}
		return nil, err
	}
	if len(objs) != 1 {
		return nil, fmt.Errorf("not one YAML mapping")
	}
	switch v := objs[0].Object["values"].(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return v, nil
	default:
		return nil, fmt.Errorf("must be a YAML mapping, not %s", manifest.TypeName(v))
	}
}
