package health

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// kindRule is converge's rule for one built-in kind. before decides
// without kstatus (for kinds kstatus does not know, or states it is too
// lenient about); after adjusts kstatus's verdict. before gets the
// object's conditions, read once per check.
type kindRule struct {
	before func(o map[string]any, sc statusConditions) (Result, bool)
	after  func(o map[string]any, r Result) Result
}

// kinds holds converge's rules for built-in kinds. It is a read-only table.
var kinds = map[schema.GroupKind]kindRule{
	{Group: "apps", Kind: "Deployment"}:                               {before: deploymentBefore},
	{Group: "", Kind: "Service"}:                                      {before: serviceBefore},
	{Group: "", Kind: "Pod"}:                                          {before: podBefore},
	{Group: "batch", Kind: "Job"}:                                     {before: jobBefore},
	{Group: "batch", Kind: "CronJob"}:                                 {before: cronJobBefore},
	{Group: "", Kind: "PersistentVolumeClaim"}:                        {before: pvcBefore},
	{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}:           {before: hpaBefore},
	{Group: "apiregistration.k8s.io", Kind: "APIService"}:             {before: apiServiceBefore},
	{Group: "networking.k8s.io", Kind: "Ingress"}:                     {before: ingressBefore},
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}: {before: crdBefore},
}

// deploymentBefore: paused is Suspended; a progress deadline exceeded or a
// replica failure is Degraded even before kstatus sees the generation.
func deploymentBefore(o map[string]any, sc statusConditions) (Result, bool) {
	if r, decided := replicasBefore(o); decided {
		return r, true
	}
	paused, err := boolean(o, "spec", "paused")
	if err != nil {
		return invalid(err), true
	}
	if paused {
		return Result{Status: Suspended, Reason: "DeploymentPaused", Message: "deployment is paused"}, true
	}
	conds, err := sc.strict()
	if err != nil {
		return invalid(err), true
	}
	if c, ok := find(conds, "Progressing"); ok && c.Status == "False" && c.Reason == "ProgressDeadlineExceeded" {
		return Result{Status: Degraded, Reason: c.Reason, Message: c.Message}, true
	}
	if c, ok := find(conds, "ReplicaFailure"); ok && c.Status == "True" {
		return Result{Status: Degraded, Reason: "ReplicaFailure", Message: c.Message}, true
	}
	return Result{}, false
}

// failingWaits are container waiting reasons that do not fix themselves.
var failingWaits = map[string]bool{
	"CrashLoopBackOff": true, "ImagePullBackOff": true, "ErrImagePull": true,
	"InvalidImageName": true, "ErrImageNeverPull": true,
	"CreateContainerConfigError": true, "CreateContainerError": true, "RunContainerError": true,
}

// podBefore: a failed pod, a crash-looping container, an image that cannot
// be pulled, or a container of a running pod that exited with an error
// (and will be restarted into a crash loop) is Degraded.
func podBefore(o map[string]any, sc statusConditions) (Result, bool) {
	phase, err := str(o, "status", "phase")
	if err != nil {
		return invalid(err), true
	}
	if phase == "Failed" {
		reason, _ := str(o, "status", "reason")
		msg, _ := str(o, "status", "message")
		return Result{Status: Degraded, Reason: "PodFailed", Message: strings.TrimSpace(reason + " " + msg)}, true
	}
	if phase == "Succeeded" {
		return Result{Status: Healthy, Reason: "PodSucceeded", Message: "pod completed successfully"}, true
	}
	for _, key := range [...]string{"initContainerStatuses", "containerStatuses"} {
		statuses, err := list(o, "status", key)
		if err != nil {
			return invalid(err), true
		}
		for i, s := range statuses {
			cs, ok := s.(map[string]any)
			if !ok {
				return invalid(fmt.Errorf(".status.%s[%d] is %s, not an object", key, i, typeName(s))), true
			}
			name, _ := str(cs, "name")
			reason, err := str(cs, "state", "waiting", "reason")
			if err != nil {
				return invalid(err), true
			}
			if failingWaits[reason] {
				msg, _ := str(cs, "state", "waiting", "message")
				return Result{Status: Degraded, Reason: reason, Message: fmt.Sprintf("container %s: %s", name, msg)}, true
			}
			code, terminated, err := integer(cs, "state", "terminated", "exitCode")
			if err != nil {
				return invalid(err), true
			}
			if terminated && code != 0 && phase == "Running" && key == "containerStatuses" {
				treason, _ := str(cs, "state", "terminated", "reason")
				return Result{Status: Degraded, Reason: "ContainerFailed",
					Message: fmt.Sprintf("container %s exited with code %d (%s)", name, code, treason)}, true
			}
		}
	}
	if phase == "Running" {
		conds, err := sc.strict()
		if err != nil {
			return invalid(err), true
		}
		if is(conds, "Ready", "True") {
			return Result{Status: Healthy, Reason: "PodReady", Message: "pod is ready"}, true
		}
	}
	return Result{}, false
}

// jobBefore: a failed Job (or one past its FailureTarget) is Degraded, a
// complete one Healthy, a suspended one Suspended, any other Progressing.
func jobBefore(o map[string]any, sc statusConditions) (Result, bool) {
	suspend, err := boolean(o, "spec", "suspend")
	if err != nil {
		return invalid(err), true
	}
	conds, err := sc.strict()
	if err != nil {
		return invalid(err), true
	}
	for _, t := range [...]string{"Failed", "FailureTarget"} {
		if c, ok := find(conds, t); ok && c.Status == "True" {
			return Result{Status: Degraded, Reason: nonEmpty(c.Reason, "JobFailed"), Message: c.Message}, true
		}
	}
	if is(conds, "Complete", "True") {
		return Result{Status: Healthy, Reason: "JobComplete", Message: "job completed"}, true
	}
	if suspend {
		return Result{Status: Suspended, Reason: "JobSuspended", Message: "job is suspended"}, true
	}
	// kstatus calls a started Job Current; a wait on a Job means a wait for
	// it to finish.
	return Result{Status: Progressing, Reason: "JobRunning", Message: "waiting for the job to complete"}, true
}

// cronJobBefore: a suspended CronJob is Suspended, any other Healthy.
func cronJobBefore(o map[string]any, _ statusConditions) (Result, bool) {
	suspend, err := boolean(o, "spec", "suspend")
	if err != nil {
		return invalid(err), true
	}
	if suspend {
		return Result{Status: Suspended, Reason: "CronJobSuspended", Message: "cronjob is suspended"}, true
	}
	return Result{}, false
}

// pvcBefore: Pending is Progressing (kstatus agrees), Lost is Degraded.
func pvcBefore(o map[string]any, _ statusConditions) (Result, bool) {
	phase, err := str(o, "status", "phase")
	if err != nil {
		return invalid(err), true
	}
	switch phase {
	case "Lost":
		return Result{Status: Degraded, Reason: "ClaimLost", Message: "the claim lost its volume"}, true
	case "Pending", "":
		return Result{Status: Progressing, Reason: "ClaimPending", Message: "the claim is not bound yet"}, true
	}
	return Result{}, false
}

// hpaBefore follows Argo CD: a condition that says the HPA cannot scale or
// read its metrics is Degraded; no conditions yet is Progressing.
func hpaBefore(o map[string]any, sc statusConditions) (Result, bool) {
	conds, err := sc.strict()
	if err != nil {
		return invalid(err), true
	}
	if len(conds) == 0 {
		return Result{Status: Progressing, Reason: "NoConditions", Message: "waiting for the autoscaler to report"}, true
	}
	for _, c := range conds {
		if (c.Type == "AbleToScale" || c.Type == "ScalingActive") && c.Status == "False" && strings.HasPrefix(c.Reason, "Failed") {
			return Result{Status: Degraded, Reason: c.Reason, Message: c.Message}, true
		}
	}
	if is(conds, "AbleToScale", "False") {
		c, _ := find(conds, "AbleToScale")
		return Result{Status: Degraded, Reason: nonEmpty(c.Reason, "NotAbleToScale"), Message: c.Message}, true
	}
	return Result{Status: Healthy, Reason: "AbleToScale", Message: "the autoscaler is able to scale"}, true
}

// apiServiceBefore: Available True is Healthy, anything else Progressing
// (Argo CD's rule: the backing service may still be starting).
func apiServiceBefore(o map[string]any, sc statusConditions) (Result, bool) {
	conds, err := sc.strict()
	if err != nil {
		return invalid(err), true
	}
	c, ok := find(conds, "Available")
	if ok && c.Status == "True" {
		return Result{Status: Healthy, Reason: "Available", Message: "the API service is available"}, true
	}
	return Result{Status: Progressing, Reason: nonEmpty(c.Reason, "NotAvailable"), Message: c.Message}, true
}

// ingressBefore: an Ingress is Healthy once its load balancer has an
// address (Argo CD's rule), Progressing until then.
func ingressBefore(o map[string]any, _ statusConditions) (Result, bool) {
	ing, err := list(o, "status", "loadBalancer", "ingress")
	if err != nil {
		return invalid(err), true
	}
	if len(ing) == 0 {
		return Result{Status: Progressing, Reason: "NoAddress", Message: "waiting for the ingress to get an address"}, true
	}
	return Result{Status: Healthy, Reason: "HasAddress", Message: "the ingress has an address"}, true
}

// crdBefore: Established is Healthy; names not accepted is Degraded.
func crdBefore(o map[string]any, sc statusConditions) (Result, bool) {
	conds, err := sc.strict()
	if err != nil {
		return invalid(err), true
	}
	if c, ok := find(conds, "NamesAccepted"); ok && c.Status == "False" {
		return Result{Status: Degraded, Reason: nonEmpty(c.Reason, "NamesNotAccepted"), Message: c.Message}, true
	}
	if is(conds, "Established", "True") {
		return Result{Status: Healthy, Reason: "Established", Message: "the CRD is established"}, true
	}
	return Result{Status: Progressing, Reason: "NotEstablished", Message: "waiting for the CRD to be established"}, true
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// replicaFields are the counters kstatus reads from workloads; it reads a
// field of the wrong type as its default, which could make a malformed
// object look healthy, so converge checks their types first.
var replicaFields = [][]string{
	{"spec", "replicas"}, {"status", "replicas"}, {"status", "readyReplicas"},
	{"status", "availableReplicas"}, {"status", "updatedReplicas"}, {"status", "currentReplicas"},
	{"status", "observedGeneration"}, {"status", "desiredNumberScheduled"}, {"status", "numberAvailable"},
	{"status", "numberReady"}, {"status", "updatedNumberScheduled"}, {"status", "currentNumberScheduled"},
	{"spec", "updateStrategy", "rollingUpdate", "partition"},
}

// replicasBefore rejects workloads whose counters have the wrong type.
func replicasBefore(o map[string]any) (Result, bool) {
	for _, p := range replicaFields {
		if _, _, err := integer(o, p...); err != nil {
			return invalid(err), true
		}
	}
	return Result{}, false
}

// serviceBefore: a LoadBalancer Service is Progressing until its load
// balancer has an address (kstatus only looks at the cluster IP).
func serviceBefore(o map[string]any, _ statusConditions) (Result, bool) {
	typ, err := str(o, "spec", "type")
	if err != nil {
		return invalid(err), true
	}
	if typ != "LoadBalancer" {
		return Result{}, false
	}
	ing, err := list(o, "status", "loadBalancer", "ingress")
	if err != nil {
		return invalid(err), true
	}
	if len(ing) == 0 {
		return Result{Status: Progressing, Reason: "NoLoadBalancerAddress", Message: "waiting for the load balancer to get an address"}, true
	}
	return Result{}, false
}
