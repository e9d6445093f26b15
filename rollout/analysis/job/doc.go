// Package job is a rollout/analysis Provider for Argo Rollouts' job
// metrics: a measurement creates the Kubernetes Job the metric's provider
// block describes, waits for it, and is Successful when the Job
// succeeds, Failed when it fails, as Rollouts' job provider decides.
//
//	p := job.New(dynamicClient, "shop")
//	run, err := analysis.NewRun(templates, args, map[string]analysis.Provider{job.Kind: p})
//
// Each Job is named after its metric with a random suffix, labelled with
// the metric, and deleted (with its Pods) once it is done, unless
// WithKeepJobs says otherwise. A measurement whose context ends deletes
// its Job and is an error.
package job
