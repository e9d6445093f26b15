package job_test

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/converge-dev/converge/rollout/analysis"
	"github.com/converge-dev/converge/rollout/analysis/job"
)

// A smoke-test Job decides a metric: the run is Successful when the Job
// completes. (It needs a cluster, so it is compiled, not run.)
func Example() {
	cfg := &rest.Config{Host: "https://cluster.example:6443"}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	templates, err := analysis.LoadTemplates([]byte(`apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: smoke}
spec:
  metrics:
  - name: smoke-test
    provider:
      job:
        spec:
          backoffLimit: 0
          template:
            spec:
              restartPolicy: Never
              containers: [{name: test, image: registry.example/smoke:1}]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	run, err := analysis.NewRun(templates, nil, map[string]analysis.Provider{job.Kind: job.New(dyn, "shop")})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := run.Step(ctx, time.Now()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(run.Phase())
}
