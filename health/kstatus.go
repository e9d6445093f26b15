package health

// This file is a native port of kstatus's Compute
// (sigs.k8s.io/cli-utils/pkg/kstatus/status, v0.37.2, Apache-2.0, Copyright
// The Kubernetes Authors): the same rules, the same statuses, messages and
// conditions, read straight from the unstructured map. kstatus converts
// status.conditions by reflection (runtime.DefaultUnstructuredConverter) up
// to three times per object and splits a dotted path for every field it
// reads, which made it most of the cost of a check. kstatus_test.go checks
// the port against kstatus itself, on the fixtures, on a table of edge cases
// and under a fuzzer; keep the two in step when cli-utils is upgraded.
//
// Where kstatus returns an error the port returns one too, with the same
// text; where kstatus panics (it asserts the types of container statuses
// unchecked) the port returns the error converge used to make of the panic,
// "kstatus: " and the panic's text. The port never panics.

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// ksResult is kstatus's Result without its allocations: kstatus reports at
// most one condition (Reconciling or Stalled, status True); Cond.Type is
// empty when it reports none.
type ksResult struct {
	Status  kstatus.Status
	Message string
	Cond    condition
}

// reason is converge's reason for a kstatus verdict: the condition's
// reason, else "kstatus" and the status.
func (r ksResult) reason() string {
	if r.Cond.Reason != "" {
		return r.Cond.Reason
	}
	// Constants for the usual statuses: concatenating would allocate on
	// every Current object.
	switch r.Status {
	case kstatus.CurrentStatus:
		return "kstatusCurrent"
	case kstatus.InProgressStatus:
		return "kstatusInProgress"
	case kstatus.FailedStatus:
		return "kstatusFailed"
	case kstatus.TerminatingStatus:
		return "kstatusTerminating"
	}
	return "kstatus" + string(r.Status)
}

func ksCurrent(msg string) (ksResult, error) {
	return ksResult{Status: kstatus.CurrentStatus, Message: msg}, nil
}

func ksInProgress(reason, msg string) (ksResult, error) {
	return ksResult{Status: kstatus.InProgressStatus, Message: msg,
		Cond: condition{Type: "Reconciling", Status: "True", Reason: reason, Message: msg}}, nil
}

func ksFailed(reason, msg string) (ksResult, error) {
	return ksResult{Status: kstatus.FailedStatus, Message: msg,
		Cond: condition{Type: "Stalled", Status: "True", Reason: reason, Message: msg}}, nil
}

// computeKstatus is kstatus.Compute on o, whose status.conditions the
// caller has read with readConditions.
func computeKstatus(o map[string]any, sc statusConditions) (ksResult, error) {
	// checkGenericProperties: deletion, generation, then the standard
	// Reconciling and Stalled conditions.
	ts, found, err := ksNestedString(o, "metadata", "deletionTimestamp")
	if err != nil {
		return ksResult{}, fmt.Errorf("looking up metadata.deletionTimestamp from resource: %w", err)
	}
	if found && ts != "" {
		return ksResult{Status: kstatus.TerminatingStatus, Message: "Resource scheduled for deletion"}, nil
	}
	if r, decided, err := ksCheckGeneration(o); decided || err != nil {
		return r, err
	}
	// Every later reading of the conditions by kstatus fails the same way,
	// so once past this point they are well-formed.
	if sc.ksErr != nil {
		return ksResult{}, sc.ksErr
	}
	conds := sc.list
	for _, c := range conds {
		if c.Type == "Reconciling" && c.Status == "True" {
			return ksInProgress(c.Reason, c.Message)
		}
		if c.Type == "Stalled" && c.Status == "True" {
			return ksFailed(c.Reason, c.Message)
		}
	}

	if legacy := ksLegacy(o); legacy != nil {
		return legacy(o, conds)
	}

	// checkReadyCondition: the first Ready condition with a known status.
	for _, c := range conds {
		if c.Type != "Ready" {
			continue
		}
		switch c.Status {
		case "True":
			return ksCurrent("Resource is Ready")
		case "False", "Unknown":
			return ksInProgress(c.Reason, c.Message)
		}
	}
	return ksCurrent("Resource is current")
}

// ksCheckGeneration is kstatus's checkGeneration: with both set, a
// generation the controller has not observed is InProgress.
func ksCheckGeneration(o map[string]any) (ksResult, bool, error) {
	gen, found, err := ksNestedInt64(o, "metadata", "generation")
	if err != nil {
		return ksResult{}, false, fmt.Errorf("looking up metadata.generation from resource: %w", err)
	}
	if !found {
		return ksResult{}, false, nil
	}
	observed, found, err := ksNestedInt64(o, "status", "observedGeneration")
	if err != nil {
		return ksResult{}, false, fmt.Errorf("looking up status.observedGeneration from resource: %w", err)
	}
	if !found || observed == gen {
		return ksResult{}, false, nil
	}
	msg := ksKind(o) + " generation is " + strconv.FormatInt(gen, 10) +
		", but latest observed generation is " + strconv.FormatInt(observed, 10)
	r, _ := ksInProgress("LatestGenerationNotObserved", msg)
	return r, true, nil
}

// ksRule is one of kstatus's rules for a built-in kind.
type ksRule func(o map[string]any, conds []condition) (ksResult, error)

// ksLegacy is kstatus's GetLegacyConditionsFn: the rule for o's group and
// kind, or nil. Like kstatus it parses apiVersion strictly (one with more
// than one slash has no group and no kind) and looks the rule up by
// "group/kind", or by the kind alone in the core group, so that a core
// object of kind "apps/Deployment" gets the Deployment rule too.
func ksLegacy(o map[string]any) ksRule {
	av := ksString(o, "", "apiVersion")
	key := ksKind(o)
	switch strings.Count(av, "/") {
	case 0:
	case 1:
		if g := av[:strings.IndexByte(av, '/')]; g != "" {
			key = g + "/" + key
		}
	default:
		return nil
	}
	switch key {
	case "Service":
		return ksService
	case "Pod":
		return ksPod
	case "Secret", "ConfigMap", "batch/CronJob":
		return ksAlwaysReady
	case "PersistentVolumeClaim":
		return ksPVC
	case "apps/StatefulSet":
		return ksStatefulSet
	case "apps/DaemonSet", "extensions/DaemonSet":
		return ksDaemonSet
	case "apps/Deployment", "extensions/Deployment":
		return ksDeployment
	case "apps/ReplicaSet", "extensions/ReplicaSet":
		return ksReplicaSet
	case "policy/PodDisruptionBudget":
		return ksPDB
	case "batch/Job":
		return ksJob
	case "apiextensions.k8s.io/CustomResourceDefinition":
		return ksCRD
	}
	return nil
}

// ksKind is Unstructured.GetKind: kind if it is a string, else "".
func ksKind(o map[string]any) string {
	k, _ := o["kind"].(string)
	return k
}

func ksAlwaysReady(map[string]any, []condition) (ksResult, error) {
	return ksCurrent("Resource is always ready")
}

func ksPDB(map[string]any, []condition) (ksResult, error) {
	return ksCurrent("AllowedDisruptions has been computed.")
}

func ksService(o map[string]any, _ []condition) (ksResult, error) {
	if ksString(o, "ClusterIP", "spec", "type") == "LoadBalancer" && ksString(o, "", "spec", "clusterIP") == "" {
		return ksInProgress("NoIPAssigned", "ClusterIP not set. Service type: LoadBalancer")
	}
	return ksCurrent("Service is ready")
}

func ksPVC(o map[string]any, _ []condition) (ksResult, error) {
	if phase := ksString(o, "unknown", "status", "phase"); phase != "Bound" {
		return ksInProgress("NotBound", "PVC is not Bound. phase: "+phase)
	}
	return ksCurrent("PVC is Bound")
}

func ksStatefulSet(o map[string]any, _ []condition) (ksResult, error) {
	if ksString(o, "", "spec", "updateStrategy", "type") == "OnDelete" {
		return ksCurrent("StatefulSet is using the ondelete update strategy")
	}
	spec := ksInt(o, 1, "spec", "replicas")
	ready := ksInt(o, 0, "status", "readyReplicas")
	current := ksInt(o, 0, "status", "currentReplicas")
	updated := ksInt(o, 0, "status", "updatedReplicas")
	replicas := ksInt(o, 0, "status", "replicas")
	partition := ksInt(o, -1, "spec", "updateStrategy", "rollingUpdate", "partition")
	switch {
	case spec > replicas:
		return ksInProgress("LessReplicas", "Replicas: "+ratio(replicas, spec))
	case spec > ready:
		return ksInProgress("LessReady", "Ready: "+ratio(ready, spec))
	case replicas > spec:
		return ksInProgress("ExtraPods", "Pending termination: "+strconv.Itoa(replicas-spec))
	case partition != -1:
		if updated < spec-partition {
			return ksInProgress("PartitionRollout", "updated: "+ratio(updated, spec-partition))
		}
		return ksCurrent("Partition rollout complete. updated: " + strconv.Itoa(updated))
	case spec > current:
		return ksInProgress("LessCurrent", "current: "+ratio(current, spec))
	case ksString(o, "", "status", "currentRevision") != ksString(o, "", "status", "updateRevision"):
		return ksInProgress("RevisionMismatch", "Waiting for updated revision to match current")
	}
	return ksCurrent("All replicas scheduled as expected. Replicas: " + strconv.Itoa(replicas))
}

func ksDeployment(o map[string]any, conds []condition) (ksResult, error) {
	// Without a progress deadline the controller never sets Progressing;
	// the controller treats MaxInt32 as none.
	progressing := ksInt(o, math.MaxInt32, "spec", "progressDeadlineSeconds") == math.MaxInt32
	available := false
	for _, c := range conds {
		switch c.Type {
		case "Progressing":
			if c.Reason == "ProgressDeadlineExceeded" {
				return ksResult{Status: kstatus.FailedStatus, Message: "Progress deadline exceeded",
					Cond: condition{Type: "Stalled", Status: "True", Reason: c.Reason, Message: c.Message}}, nil
			}
			if c.Status == "True" && c.Reason == "NewReplicaSetAvailable" {
				progressing = true
			}
		case "Available":
			if c.Status == "True" {
				available = true
			}
		}
	}
	spec := ksInt(o, 1, "spec", "replicas")
	replicas := ksInt(o, 0, "status", "replicas")
	updated := ksInt(o, 0, "status", "updatedReplicas")
	ready := ksInt(o, 0, "status", "readyReplicas")
	avail := ksInt(o, 0, "status", "availableReplicas")
	switch {
	case spec > replicas:
		return ksInProgress("LessReplicas", "Replicas: "+ratio(replicas, spec))
	case spec > updated:
		return ksInProgress("LessUpdated", "Updated: "+ratio(updated, spec))
	case replicas > spec:
		return ksInProgress("ExtraPods", "Pending termination: "+strconv.Itoa(replicas-spec))
	case updated > avail:
		return ksInProgress("LessAvailable", "Available: "+ratio(avail, updated))
	case spec > ready:
		return ksInProgress("LessReady", "Ready: "+ratio(ready, spec))
	case !progressing:
		return ksInProgress("ReplicaSetNotAvailable", "ReplicaSet not Available")
	case !available:
		return ksInProgress("DeploymentNotAvailable", "Deployment not Available")
	}
	return ksCurrent("Deployment is available. Replicas: " + strconv.Itoa(replicas))
}

func ksReplicaSet(o map[string]any, conds []condition) (ksResult, error) {
	for _, c := range conds {
		if c.Type == "ReplicaFailure" && c.Status == "True" {
			return ksInProgress("ReplicaFailure", "Replica Failure condition. Check Pods")
		}
	}
	spec := ksInt(o, 1, "spec", "replicas")
	replicas := ksInt(o, 0, "status", "replicas")
	ready := ksInt(o, 0, "status", "readyReplicas")
	avail := ksInt(o, 0, "status", "availableReplicas")
	labelled := ksInt(o, 0, "status", "fullyLabeledReplicas")
	switch {
	case spec > labelled:
		return ksInProgress("LessLabelled", "Labelled: "+ratio(labelled, spec))
	case spec > avail:
		return ksInProgress("LessAvailable", "Available: "+ratio(avail, spec))
	case spec > ready:
		return ksInProgress("LessReady", "Ready: "+ratio(ready, spec))
	case replicas > spec:
		return ksInProgress("ExtraPods", "Pending termination: "+strconv.Itoa(replicas-spec))
	}
	return ksCurrent("ReplicaSet is available. Replicas: " + strconv.Itoa(replicas))
}

func ksDaemonSet(o map[string]any, _ []condition) (ksResult, error) {
	// checkGenerationSet: a DaemonSet the controller has acted on has both.
	if _, found, err := ksNestedInt64(o, "metadata", "generation"); err != nil {
		return ksResult{}, fmt.Errorf("looking up metadata.generation from resource: %w", err)
	} else if !found {
		return ksInProgress("NoGeneration", ksKind(o)+" metadata.generation not found")
	}
	if _, found, err := ksNestedInt64(o, "status", "observedGeneration"); err != nil {
		return ksResult{}, fmt.Errorf("looking up status.observedGeneration from resource: %w", err)
	} else if !found {
		return ksInProgress("NoObservedGeneration", ksKind(o)+" status.observedGeneration not found")
	}
	desired := ksInt(o, -1, "status", "desiredNumberScheduled")
	current := ksInt(o, 0, "status", "currentNumberScheduled")
	updated := ksInt(o, 0, "status", "updatedNumberScheduled")
	avail := ksInt(o, 0, "status", "numberAvailable")
	ready := ksInt(o, 0, "status", "numberReady")
	switch {
	case desired == -1:
		return ksInProgress("NoDesiredNumber", "Missing .status.desiredNumberScheduled")
	case desired > current:
		return ksInProgress("LessCurrent", "Current: "+ratio(current, desired))
	case desired > updated:
		return ksInProgress("LessUpdated", "Updated: "+ratio(updated, desired))
	case desired > avail:
		return ksInProgress("LessAvailable", "Available: "+ratio(avail, desired))
	case desired > ready:
		return ksInProgress("LessReady", "Ready: "+ratio(ready, desired))
	}
	return ksCurrent("All replicas scheduled as expected. Replicas: " + strconv.Itoa(desired))
}

func ksJob(o map[string]any, conds []condition) (ksResult, error) {
	parallelism := ksInt(o, 1, "spec", "parallelism")
	completions := ksInt(o, parallelism, "spec", "completions")
	succeeded := ksInt(o, 0, "status", "succeeded")
	active := ksInt(o, 0, "status", "active")
	failed := ksInt(o, 0, "status", "failed")
	for _, c := range conds {
		if c.Status != "True" {
			continue
		}
		switch c.Type {
		case "Complete":
			return ksCurrent("Job Completed. succeeded: " + ratio(succeeded, completions))
		case "Failed":
			return ksFailed("JobFailed", "Job Failed. failed: "+ratio(failed, completions))
		}
	}
	if ksString(o, "", "status", "startTime") == "" {
		return ksInProgress("JobNotStarted", "Job not started")
	}
	return ksCurrent("Job in progress. success:" + strconv.Itoa(succeeded) +
		", active: " + strconv.Itoa(active) + ", failed: " + strconv.Itoa(failed))
}

func ksCRD(_ map[string]any, conds []condition) (ksResult, error) {
	for _, c := range conds {
		if c.Type == "NamesAccepted" && c.Status == "False" {
			return ksFailed(c.Reason, c.Message)
		}
		if c.Type == "Established" {
			if c.Status == "False" && c.Reason != "Installing" {
				return ksFailed(c.Reason, c.Message)
			}
			if c.Status == "True" {
				return ksCurrent("CRD is established")
			}
		}
	}
	return ksInProgress("Installing", "Install in progress")
}

func ksPod(o map[string]any, conds []condition) (ksResult, error) {
	switch phase := ksString(o, "", "status", "phase"); phase {
	case "Succeeded":
		return ksCurrent("Pod has completed successfully")
	case "Failed":
		return ksCurrent("Pod has completed, but not successfully")
	case "Running":
		for _, c := range conds {
			if c.Type == "Ready" && c.Status == "True" {
				return ksCurrent("Pod is Ready")
			}
		}
		names, err := ksCrashLooping(o)
		if err != nil {
			return ksResult{}, err
		}
		if names != "" {
			return ksFailed("ContainerCrashLooping", "Containers in CrashLoop state: "+names)
		}
		return ksInProgress("PodRunningNotReady", "Pod is running but is not Ready")
	case "Pending":
		// The first PodScheduled condition that is False decides.
		for _, c := range conds {
			if c.Type != "PodScheduled" || c.Status != "False" {
				continue
			}
			if c.Reason != "Unschedulable" {
				break
			}
			// kstatus gives a pod 15 seconds to be scheduled; an absent or
			// unparsable creationTimestamp is the zero time, long past.
			if time.Now().Add(-kstatus.ScheduleWindow).Before(ksCreated(o)) {
				return ksInProgress("PodNotScheduled", "Pod has not been scheduled")
			}
			return ksFailed("PodUnschedulable", "Pod could not be scheduled")
		}
		return ksInProgress("PodPending", "Pod is in the Pending phase")
	case "":
		return ksInProgress("PodNotObserved", "Pod phase not available")
	default:
		return ksResult{}, fmt.Errorf("unknown phase %s", phase)
	}
}

// ksCreated is Unstructured.GetCreationTimestamp.
func ksCreated(o map[string]any) time.Time {
	s, _, err := ksNestedString(o, "metadata", "creationTimestamp")
	if err != nil || s == "" || s == "null" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// ksCrashLooping is kstatus's getCrashLoopingContainers: the names, joined
// by commas, of the containers waiting in CrashLoopBackOff. kstatus deep
// copies the list (panicking on a value that is not JSON) and then asserts
// the types of name, state, state.waiting and its reason without checking
// them (panicking on a wrong one); the port returns those panics as errors.
func ksCrashLooping(o map[string]any) (string, error) {
	v, found, err := ksNested(o, "status", "containerStatuses")
	if !found || err != nil {
		return "", err
	}
	css, ok := v.([]any)
	if !ok {
		return "", fmt.Errorf(".status.containerStatuses accessor error: %v is of the type %T, expected []interface{}", v, v)
	}
	if err := ksDeepCopyable(css); err != nil {
		return "", err
	}
	var names strings.Builder
	for _, item := range css {
		cs, ok := item.(map[string]any)
		if !ok {
			return "", ksAssertErr(item, "map[string]interface {}")
		}
		name, reason, err := ksWaitingReason(cs)
		if err != nil {
			return "", err
		}
		if reason == "CrashLoopBackOff" {
			if names.Len() > 0 {
				names.WriteByte(',')
			}
			names.WriteString(name)
		}
	}
	return names.String(), nil
}

// ksWaitingReason reads a container status's name and waiting reason in
// kstatus's order: each step stops quietly at a missing key and fails at a
// value of the wrong type.
func ksWaitingReason(cs map[string]any) (name, reason string, err error) {
	name, found, err := ksAssert[string](cs, "name")
	if !found || err != nil {
		return "", "", err
	}
	state, found, err := ksAssert[map[string]any](cs, "state")
	if !found || err != nil {
		return "", "", err
	}
	waiting, found, err := ksAssert[map[string]any](state, "waiting")
	if !found || err != nil {
		return "", "", err
	}
	reason, _, err = ksAssert[string](waiting, "reason")
	return name, reason, err
}

// ksAssert is kstatus's unchecked m[key].(T): found is false when key is
// absent, and a value of another type (null included) is the error
// kstatus's panic would carry.
func ksAssert[T any](m map[string]any, key string) (v T, found bool, err error) {
	x, found := m[key]
	if !found {
		return v, false, nil
	}
	v, ok := x.(T)
	if !ok {
		return v, true, ksAssertErr(x, reflect.TypeFor[T]().String())
	}
	return v, true, nil
}

// ksAssertErr is the panic of a failed type assertion of v to want, as
// converge reported kstatus's panics.
func ksAssertErr(v any, want string) error {
	got := "nil"
	if v != nil {
		got = reflect.TypeOf(v).String()
	}
	return fmt.Errorf("kstatus: interface conversion: interface {} is %s, not %s", got, want)
}

// ksDeepCopyable fails where runtime.DeepCopyJSONValue would panic.
func ksDeepCopyable(v any) error {
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			if err := ksDeepCopyable(e); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := ksDeepCopyable(e); err != nil {
				return err
			}
		}
	case string, int64, bool, float64, json.Number, nil:
	default:
		return fmt.Errorf("kstatus: cannot deep copy %T", v)
	}
	return nil
}

func ratio(a, b int) string {
	return strconv.Itoa(a) + "/" + strconv.Itoa(b)
}

// ksNested is unstructured.NestedFieldNoCopy: a missing or null map on the
// way is not found, a non-map on the way an error; a null at the end is
// found.
func ksNested(o map[string]any, path ...string) (any, bool, error) {
	var v any = o
	for i, p := range path {
		if v == nil {
			return nil, false, nil
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false, fmt.Errorf("%s accessor error: %v is of the type %T, expected map[string]interface{}",
				"."+strings.Join(path[:i+1], "."), v, v)
		}
		if v, ok = m[p]; !ok {
			return nil, false, nil
		}
	}
	return v, true, nil
}

// ksNestedString is unstructured.NestedString: a value that is not a
// string, null included, is an error.
func ksNestedString(o map[string]any, path ...string) (string, bool, error) {
	v, found, err := ksNested(o, path...)
	if !found || err != nil {
		return "", found, err
	}
	s, ok := v.(string)
	if !ok {
		return "", false, fmt.Errorf("%s accessor error: %v is of the type %T, expected string", "."+strings.Join(path, "."), v, v)
	}
	return s, true, nil
}

// ksNestedInt64 is unstructured.NestedInt64: only an int64 is an integer,
// not an int or a float64, and null is an error.
func ksNestedInt64(o map[string]any, path ...string) (int64, bool, error) {
	v, found, err := ksNested(o, path...)
	if !found || err != nil {
		return 0, found, err
	}
	n, ok := v.(int64)
	if !ok {
		return 0, false, fmt.Errorf("%s accessor error: %v is of the type %T, expected int64", "."+strings.Join(path, "."), v, v)
	}
	return n, true, nil
}

// ksString is kstatus's GetStringField: the string at path, else def.
func ksString(o map[string]any, def string, path ...string) string {
	v, _, _ := ksNested(o, path...)
	if s, ok := v.(string); ok {
		return s
	}
	return def
}

// ksInt is kstatus's GetIntField: an int, int32 or int64 at path, else
// def (a float64 too).
func ksInt(o map[string]any, def int, path ...string) int {
	v, _, _ := ksNested(o, path...)
	switch n := v.(type) {
	case int:
		return n
	case int32:
		return int(n)
	case int64:
		return int(n)
	}
	return def
}
