package promote_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/promote"
	"github.com/converge-dev/converge/render/kustomize"
)

var gitopsDeploy = os.DirFS("../examples/gitops-deploy")

func env(app, name string) promote.Environment {
	return promote.Environment{Name: name, Dir: "apps/" + app + "/overlays/" + name}
}

// TestPlanPromotionGitopsDeploy promotes what dev runs to staging in the
// quickstart's repository: only the kustomization's newTag changes, and
// staging's render changes in its container image only.
func TestPlanPromotionGitopsDeploy(t *testing.T) {
	ctx := context.Background()
	var gated []string
	gate := promote.GateFunc(func(_ context.Context, e promote.Environment, images []promote.ImageRef) (promote.GateResult, error) {
		for _, i := range images {
			gated = append(gated, e.Name+" "+i.String())
		}
		return promote.GateResult{Name: "health", Passed: true, Detail: "16/16 healthy"}, nil
	})
	p, err := promote.PlanPromotion(ctx, gitopsDeploy, kustomize.New(), env("web", "dev"), env("web", "staging"), promote.PlanOptions{Gates: []promote.Gate{gate}})
	require.NoError(t, err)
	assert.Equal(t, []string{"dev ghcr.io/converge-dev/shop-web:1.5.0"}, gated, "the gate sees the source environment and what would move")
	assert.Equal(t, "promote shop-web 1.5.0 from dev to staging", p.Summary())
	require.Equal(t, []string{"apps/web/overlays/staging/kustomization.yaml"}, p.Edit.Paths())
	assert.Equal(t, `--- a/apps/web/overlays/staging/kustomization.yaml
+++ b/apps/web/overlays/staging/kustomization.yaml
@@ -7,7 +7,7 @@
       environment: staging
 images:
   - name: ghcr.io/converge-dev/shop-web
-    newTag: 1.4.2
+    newTag: 1.5.0
 patches:
   - target:
       kind: ConfigMap
`, p.Edit.Diff())
	require.Len(t, p.Render, 1)
	assert.Equal(t, "apps/web/overlays/staging: Deployment.apps/shop/web spec.template.spec.containers[0].image", p.Render[0].String())
	assert.Equal(t, []promote.GateResult{{Name: "health", Passed: true, Detail: "16/16 healthy"}}, p.Gates)

	// Promoting staging to prod moves api's and web's tags together, or
	// only the images asked for.
	all, err := promote.PlanPromotion(ctx, gitopsDeploy, kustomize.New(), env("api", "staging"), env("api", "prod"), promote.PlanOptions{})
	require.NoError(t, err)
	assert.Equal(t, "promote shop-api 2.2.1 from staging to prod", all.Summary())
	none, err := promote.PlanPromotion(ctx, gitopsDeploy, kustomize.New(), env("api", "staging"), env("api", "prod"), promote.PlanOptions{Images: []string{"ghcr.io/converge-dev/shop-web"}})
	require.NoError(t, err)
	assert.True(t, none.Empty(), "api's overlays do not run web")
}

func TestPlanPromotionGateFails(t *testing.T) {
	gate := promote.GateFunc(func(context.Context, promote.Environment, []promote.ImageRef) (promote.GateResult, error) {
		return promote.GateResult{Name: "health", Passed: false, Detail: "Deployment shop/web is Degraded"}, nil
	})
	p, err := promote.PlanPromotion(context.Background(), gitopsDeploy, kustomize.New(), env("web", "dev"), env("web", "staging"), promote.PlanOptions{Gates: []promote.Gate{gate}})
	require.ErrorIs(t, err, promote.ErrGateFailed)
	assert.EqualError(t, err, "promote: dev to staging: a promotion gate failed: health failed: Deployment shop/web is Degraded")
	assert.True(t, p.Empty(), "nothing is edited when a gate fails")

	broken := promote.GateFunc(func(context.Context, promote.Environment, []promote.ImageRef) (promote.GateResult, error) {
		return promote.GateResult{}, errors.New("cluster unreachable")
	})
	_, err = promote.PlanPromotion(context.Background(), gitopsDeploy, kustomize.New(), env("web", "dev"), env("web", "staging"), promote.PlanOptions{Gates: []promote.Gate{broken}})
	assert.ErrorContains(t, err, "cluster unreachable")
	assert.NotErrorIs(t, err, promote.ErrGateFailed)
}

func TestPlanPromotionBadInput(t *testing.T) {
	ctx := context.Background()
	_, err := promote.PlanPromotion(ctx, gitopsDeploy, kustomize.New(), env("web", "dev"), env("web", "dev"), promote.PlanOptions{})
	assert.ErrorContains(t, err, "two different environment directories are needed")
	_, err = promote.PlanPromotion(ctx, gitopsDeploy, kustomize.New(), env("web", "dev"), env("web", "qa"), promote.PlanOptions{})
	assert.ErrorContains(t, err, "render qa (apps/web/overlays/qa)")
}

// TestVerifyRenderRefusesUnintendedChanges: an edit that changes more than
// images (here replicas, through a whole-file edit) is refused, naming the
// field; the same edit passes when every change is allowed.
func TestVerifyRenderRefusesUnintendedChanges(t *testing.T) {
	ctx := context.Background()
	edit := promote.FileEdit{Path: "apps/web/overlays/staging/kustomization.yaml", Change: func(old []byte) ([]byte, error) {
		return bytes.Replace(bytes.Replace(old, []byte("newTag: 1.4.2"), []byte("newTag: 1.5.0"), 1), []byte("value: 2"), []byte("value: 5"), 1), nil
	}}
	res, err := edit.Apply(ctx, gitopsDeploy)
	require.NoError(t, err)
	require.Len(t, res.Files, 1)
	_, err = promote.VerifyRender(ctx, kustomize.New(), gitopsDeploy, res, []string{"apps/web/overlays/staging"}, promote.ImagesOnly)
	require.ErrorIs(t, err, promote.ErrUnintended)
	assert.ErrorContains(t, err, "apps/web/overlays/staging: Deployment.apps/shop/web spec.replicas")
	changes, err := promote.VerifyRender(ctx, kustomize.New(), gitopsDeploy, res, []string{"apps/web/overlays/staging"}, nil)
	require.NoError(t, err)
	require.Len(t, changes, 1)
	assert.Equal(t, []string{"spec.replicas", "spec.template.spec.containers[0].image"}, changes[0].Fields)
}

func TestFileEditAndEdits(t *testing.T) {
	ctx := context.Background()
	readme := promote.FileEdit{Path: "apps/web/base/kustomization.yaml", Change: func(old []byte) ([]byte, error) {
		return append(old, []byte("# promoted\n")...), nil
	}}
	tag := promote.SetImage{File: "apps/web/overlays/staging", Images: []promote.Image{{Name: "ghcr.io/converge-dev/shop-web", NewTag: "1.5.0"}}}
	back := promote.SetImage{File: "apps/web/overlays/staging", Images: []promote.Image{{Name: "ghcr.io/converge-dev/shop-web", NewTag: "1.4.2"}}}
	res, err := promote.Edits(tag, readme).Apply(ctx, gitopsDeploy)
	require.NoError(t, err)
	assert.Equal(t, []string{"apps/web/overlays/staging/kustomization.yaml", "apps/web/base/kustomization.yaml"}, res.Paths())
	data, err := os.ReadFile("../examples/gitops-deploy/apps/web/base/kustomization.yaml")
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(string(res.Files[1].New), "# promoted\n"))
	assert.Equal(t, string(data), string(res.Files[1].Old), "nothing is written")

	res, err = promote.Edits(tag, back).Apply(ctx, gitopsDeploy)
	require.NoError(t, err)
	assert.Empty(t, res.Files, "an edit and its reverse change nothing")

	_, err = promote.FileEdit{Path: "../outside", Change: func(b []byte) ([]byte, error) { return b, nil }}.Apply(ctx, gitopsDeploy)
	assert.Error(t, err)
	_, err = promote.FileEdit{Path: "apps/web/base/kustomization.yaml"}.Apply(ctx, gitopsDeploy)
	assert.ErrorContains(t, err, "without a Change function")
	_, err = promote.FileEdit{Path: "apps/web/base/kustomization.yaml", Change: func([]byte) ([]byte, error) { return nil, errors.New("no") }}.Apply(ctx, gitopsDeploy)
	assert.EqualError(t, err, "apps/web/base/kustomization.yaml: no")
}
