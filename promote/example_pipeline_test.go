package promote_test

import (
	"context"
	"fmt"
	"os"

	"github.com/converge-dev/converge/promote"
	"github.com/converge-dev/converge/render/kustomize"
)

// PlanPromotion takes what dev runs to staging in the quickstart's
// repository, behind a gate; nothing is written until the host commits
// the edit.
func ExamplePlanPromotion() {
	healthy := promote.GateFunc(func(context.Context, promote.Environment, []promote.ImageRef) (promote.GateResult, error) {
		return promote.GateResult{Name: "health", Passed: true, Detail: "all Healthy"}, nil
	})
	plan, err := promote.PlanPromotion(context.Background(), os.DirFS("../examples/gitops-deploy"), kustomize.New(),
		promote.Environment{Name: "dev", Dir: "apps/web/overlays/dev"},
		promote.Environment{Name: "staging", Dir: "apps/web/overlays/staging"},
		promote.PlanOptions{Gates: []promote.Gate{healthy}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(plan.Summary())
	fmt.Println(plan.Gates[0])
	for _, c := range plan.Render {
		fmt.Println(c)
	}
	fmt.Print(plan.Edit.Diff())
	// Output:
	// promote shop-web 1.5.0 from dev to staging
	// health passed: all Healthy
	// apps/web/overlays/staging: Deployment.apps/shop/web spec.template.spec.containers[0].image
	// --- a/apps/web/overlays/staging/kustomization.yaml
	// +++ b/apps/web/overlays/staging/kustomization.yaml
	// @@ -7,7 +7,7 @@
	//        environment: staging
	//  images:
	//    - name: ghcr.io/converge-dev/shop-web
	// -    newTag: 1.4.2
	// +    newTag: 1.5.0
	//  patches:
	//    - target:
	//        kind: ConfigMap
}
