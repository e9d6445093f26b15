package rollout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/rollout/analysis"
)

// The Rollout kind this package reads, as Argo Rollouts names it.
const (
	Group      = "argoproj.io"
	Version    = "v1alpha1"
	Kind       = "Rollout"
	APIVersion = Group + "/" + Version
)

// GroupKind is the Rollout's.
var GroupKind = schema.GroupKind{Group: Group, Kind: Kind}

// ErrUnsupported is wrapped by the error for a Rollout field converge
// knows but cannot honour (an experiment step, ALB routing, …): such a
// field is refused by name, never dropped.
var ErrUnsupported = errors.New("not supported by converge")

// Rollout is an Argo Rollouts Rollout as its manifest writes it: the pod
// template and replicas of a Deployment, and a canary or blue-green
// strategy. Parse reads one from an object.
type Rollout struct {
	// Name and Namespace are the object's.
	Name      string `json:"-"`
	Namespace string `json:"-"`
	// Labels and Annotations are the object's; the workloads it runs
	// carry the labels.
	Labels      map[string]string `json:"-"`
	Annotations map[string]string `json:"-"`
	Spec        Spec              `json:"spec"`
}

// Spec is a Rollout's spec.
type Spec struct {
	// Replicas defaults to 1.
	Replicas *int32 `json:"replicas,omitempty"`
	// Selector must match the template's labels.
	Selector *Selector `json:"selector"`
	// Template is the pod template, kept as written.
	Template map[string]any `json:"template"`
	// MinReadySeconds is passed to the workloads.
	MinReadySeconds int32 `json:"minReadySeconds,omitempty"`
	// RevisionHistoryLimit is accepted for compatibility: converge keeps
	// no old revisions (Git is the history).
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`
	// Paused stops the rollout where it is, as `rollout pause` does.
	Paused bool `json:"paused,omitempty"`
	// ProgressDeadlineSeconds (default 600) bounds how long a new revision
	// may take to become available before the rollout is aborted.
	ProgressDeadlineSeconds *int32 `json:"progressDeadlineSeconds,omitempty"`
	// ProgressDeadlineAbort is accepted for compatibility: converge always
	// aborts when the deadline passes, so that traffic goes back to stable.
	ProgressDeadlineAbort *bool    `json:"progressDeadlineAbort,omitempty"`
	Strategy              Strategy `json:"strategy"`

	WorkloadRef    json.RawMessage `json:"workloadRef,omitempty"`
	RestartAt      json.RawMessage `json:"restartAt,omitempty"`
	RollbackWindow json.RawMessage `json:"rollbackWindow,omitempty"`
	Analysis       json.RawMessage `json:"analysis,omitempty"`
}

// Selector is a label selector; only matchLabels is supported, since the
// workloads converge creates add their revision label to it.
type Selector struct {
	MatchLabels      map[string]string `json:"matchLabels"`
	MatchExpressions json.RawMessage   `json:"matchExpressions,omitempty"`
}

// Strategy holds exactly one of Canary and BlueGreen.
type Strategy struct {
	Canary    *Canary    `json:"canary,omitempty"`
	BlueGreen *BlueGreen `json:"blueGreen,omitempty"`
}

// Canary is strategy.canary.
type Canary struct {
	// CanaryService and StableService select the canary's and the
	// stable revision's pods: converge pins each Service's selector to
	// its revision. Both are needed with TrafficRouting.
	CanaryService string `json:"canaryService,omitempty"`
	StableService string `json:"stableService,omitempty"`
	// Steps run in order; a rollout with none is promoted at once.
	Steps []CanaryStep `json:"steps,omitempty"`
	// TrafficRouting splits traffic by weight through a mesh, a gateway
	// or an ingress; without it the split is the ratio of replicas.
	TrafficRouting *TrafficRouting `json:"trafficRouting,omitempty"`
	// MaxSurge (default 25%) and MaxUnavailable (default 25%) bound the
	// replica-ratio split, as for a Deployment.
	MaxSurge       *intstr.IntOrString `json:"maxSurge,omitempty"`
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
	// Analysis runs in the background from its StartingStep until the
	// rollout is promoted; its failure aborts the rollout.
	Analysis *BackgroundAnalysis `json:"analysis,omitempty"`
	// CanaryMetadata and StableMetadata are added to each revision's pods.
	CanaryMetadata *PodMetadata `json:"canaryMetadata,omitempty"`
	StableMetadata *PodMetadata `json:"stableMetadata,omitempty"`
	// ScaleDownDelaySeconds (default 30 with traffic routing) keeps the
	// old stable revision up after a promotion, so that routes that
	// still send it traffic drain.
	ScaleDownDelaySeconds *int32 `json:"scaleDownDelaySeconds,omitempty"`
	// AbortScaleDownDelaySeconds (default 30) keeps the canary up after
	// an abort; 0 keeps it until the next revision.
	AbortScaleDownDelaySeconds  *int32 `json:"abortScaleDownDelaySeconds,omitempty"`
	ScaleDownDelayRevisionLimit *int32 `json:"scaleDownDelayRevisionLimit,omitempty"`
	MinPodsPerReplicaSet        *int32 `json:"minPodsPerReplicaSet,omitempty"`

	AntiAffinity       json.RawMessage `json:"antiAffinity,omitempty"`
	DynamicStableScale json.RawMessage `json:"dynamicStableScale,omitempty"`
	PingPong           json.RawMessage `json:"pingPong,omitempty"`
}

// CanaryStep is one step; exactly one field is set.
type CanaryStep struct {
	SetWeight      *int32          `json:"setWeight,omitempty"`
	Pause          *Pause          `json:"pause,omitempty"`
	Analysis       *StepAnalysis   `json:"analysis,omitempty"`
	SetCanaryScale *SetCanaryScale `json:"setCanaryScale,omitempty"`
	SetHeaderRoute *SetHeaderRoute `json:"setHeaderRoute,omitempty"`

	Experiment     json.RawMessage `json:"experiment,omitempty"`
	SetMirrorRoute json.RawMessage `json:"setMirrorRoute,omitempty"`
	Plugin         json.RawMessage `json:"plugin,omitempty"`
}

// Pause waits for Duration, or, without one, until the rollout is
// promoted.
type Pause struct {
	Duration *intstr.IntOrString `json:"duration,omitempty"`
}

// StepAnalysis is an analysis step: the named templates, merged, run to
// their end; Successful goes on, Failed or Error aborts, Inconclusive
// pauses.
type StepAnalysis struct {
	Templates            []TemplateRef                   `json:"templates"`
	Args                 []AnalysisArg                   `json:"args,omitempty"`
	DryRun               []analysis.DryRun               `json:"dryRun,omitempty"`
	MeasurementRetention []analysis.MeasurementRetention `json:"measurementRetention,omitempty"`
}

// BackgroundAnalysis is strategy.canary.analysis.
type BackgroundAnalysis struct {
	StepAnalysis `json:",inline"`
	// StartingStep is the index of the step the analysis starts at.
	StartingStep *int32 `json:"startingStep,omitempty"`
}

// TemplateRef names an AnalysisTemplate (or a ClusterAnalysisTemplate)
// of the same set.
type TemplateRef struct {
	TemplateName string `json:"templateName"`
	ClusterScope bool   `json:"clusterScope,omitempty"`
}

// AnalysisArg is an arg given to an analysis: a value, or a revision's
// pod template hash.
type AnalysisArg struct {
	Name      string           `json:"name"`
	Value     string           `json:"value,omitempty"`
	ValueFrom *ArgumentValueOf `json:"valueFrom,omitempty"`
}

// ArgumentValueOf is an AnalysisArg's valueFrom: podTemplateHashValue
// "Stable" or "Latest". fieldRef is refused by name.
type ArgumentValueOf struct {
	PodTemplateHashValue string          `json:"podTemplateHashValue,omitempty"`
	FieldRef             json.RawMessage `json:"fieldRef,omitempty"`
}

// SetCanaryScale scales the canary independently of its traffic weight.
type SetCanaryScale struct {
	Weight             *int32 `json:"weight,omitempty"`
	Replicas           *int32 `json:"replicas,omitempty"`
	MatchTrafficWeight bool   `json:"matchTrafficWeight,omitempty"`
}

// SetHeaderRoute sends requests that match to the canary, whatever the
// weight; a step without Match removes the route.
type SetHeaderRoute struct {
	Name  string             `json:"name"`
	Match []HeaderRouteMatch `json:"match,omitempty"`
}

// HeaderRouteMatch matches one header.
type HeaderRouteMatch struct {
	HeaderName  string      `json:"headerName"`
	HeaderValue StringMatch `json:"headerValue"`
}

// StringMatch holds exactly one of Exact, Prefix and Regex.
type StringMatch struct {
	Exact  string `json:"exact,omitempty"`
	Prefix string `json:"prefix,omitempty"`
	Regex  string `json:"regex,omitempty"`
}

// PodMetadata is added to a revision's pods.
type PodMetadata struct {
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// TrafficRouting is strategy.canary.trafficRouting: one router.
type TrafficRouting struct {
	Istio *IstioRouting `json:"istio,omitempty"`
	Nginx *NginxRouting `json:"nginx,omitempty"`
	SMI   *SMIRouting   `json:"smi,omitempty"`
	// Plugins holds argoproj-labs/gatewayAPI, the Gateway API plugin.
	Plugins       map[string]json.RawMessage `json:"plugins,omitempty"`
	ManagedRoutes []ManagedRoute             `json:"managedRoutes,omitempty"`

	ALB        json.RawMessage `json:"alb,omitempty"`
	Ambassador json.RawMessage `json:"ambassador,omitempty"`
	AppMesh    json.RawMessage `json:"appMesh,omitempty"`
	Traefik    json.RawMessage `json:"traefik,omitempty"`
	Apisix     json.RawMessage `json:"apisix,omitempty"`
}

// ManagedRoute names a header route the router may add, in priority
// order.
type ManagedRoute struct {
	Name string `json:"name"`
}

// IstioRouting routes through VirtualServices' HTTP routes (by host, or
// by the subsets of a DestinationRule).
type IstioRouting struct {
	VirtualService  *IstioVirtualService  `json:"virtualService,omitempty"`
	VirtualServices []IstioVirtualService `json:"virtualServices,omitempty"`
	DestinationRule *IstioDestinationRule `json:"destinationRule,omitempty"`
}

// IstioVirtualService names a VirtualService and the HTTP routes of it
// to weigh (all of them when there is one and Routes is empty).
type IstioVirtualService struct {
	Name      string          `json:"name"`
	Routes    []string        `json:"routes,omitempty"`
	TLSRoutes json.RawMessage `json:"tlsRoutes,omitempty"`
	TCPRoutes json.RawMessage `json:"tcpRoutes,omitempty"`
}

// IstioDestinationRule names the subsets of the revisions.
type IstioDestinationRule struct {
	Name             string `json:"name"`
	CanarySubsetName string `json:"canarySubsetName"`
	StableSubsetName string `json:"stableSubsetName"`
}

// NginxRouting weighs an Ingress by a canary Ingress that copies it, with
// NGINX Ingress' canary annotations.
type NginxRouting struct {
	StableIngress                string            `json:"stableIngress,omitempty"`
	StableIngresses              []string          `json:"stableIngresses,omitempty"`
	AnnotationPrefix             string            `json:"annotationPrefix,omitempty"`
	AdditionalIngressAnnotations map[string]string `json:"additionalIngressAnnotations,omitempty"`
}

// SMIRouting weighs an SMI TrafficSplit converge writes.
type SMIRouting struct {
	RootService      string `json:"rootService,omitempty"`
	TrafficSplitName string `json:"trafficSplitName,omitempty"`
}

// GatewayAPIPlugin is the name of the Gateway API traffic router plugin,
// whose configuration GatewayAPIRouting reads.
const GatewayAPIPlugin = "argoproj-labs/gatewayAPI"

// GatewayAPIRouting is the argoproj-labs/gatewayAPI plugin's
// configuration: the HTTPRoutes whose backendRefs to weigh.
type GatewayAPIRouting struct {
	HTTPRoute  string                `json:"httpRoute,omitempty"`
	HTTPRoutes []GatewayAPIHTTPRoute `json:"httpRoutes,omitempty"`
	Namespace  string                `json:"namespace,omitempty"`
}

// GatewayAPIHTTPRoute names an HTTPRoute.
type GatewayAPIHTTPRoute struct {
	Name            string `json:"name"`
	UseHeaderRoutes bool   `json:"useHeaderRoutes,omitempty"`
}

// BlueGreen is strategy.blueGreen.
type BlueGreen struct {
	// ActiveService serves production traffic; PreviewService the new
	// revision before its promotion.
	ActiveService  string `json:"activeService"`
	PreviewService string `json:"previewService,omitempty"`
	// PreviewReplicaCount is the new revision's replicas before its
	// promotion (default: all of them).
	PreviewReplicaCount *int32 `json:"previewReplicaCount,omitempty"`
	// AutoPromotionEnabled (default true) promotes once the new revision
	// is available and its pre-promotion analysis passed, after
	// AutoPromotionSeconds when set; false waits for `rollout promote`.
	AutoPromotionEnabled *bool `json:"autoPromotionEnabled,omitempty"`
	AutoPromotionSeconds int32 `json:"autoPromotionSeconds,omitempty"`
	// ScaleDownDelaySeconds (default 30) keeps the old revision up after
	// the switch.
	ScaleDownDelaySeconds       *int32 `json:"scaleDownDelaySeconds,omitempty"`
	ScaleDownDelayRevisionLimit *int32 `json:"scaleDownDelayRevisionLimit,omitempty"`
	AbortScaleDownDelaySeconds  *int32 `json:"abortScaleDownDelaySeconds,omitempty"`
	// PrePromotionAnalysis must pass before the switch;
	// PostPromotionAnalysis after it, or the switch is undone.
	PrePromotionAnalysis  *StepAnalysis `json:"prePromotionAnalysis,omitempty"`
	PostPromotionAnalysis *StepAnalysis `json:"postPromotionAnalysis,omitempty"`
	PreviewMetadata       *PodMetadata  `json:"previewMetadata,omitempty"`
	ActiveMetadata        *PodMetadata  `json:"activeMetadata,omitempty"`

	AntiAffinity json.RawMessage `json:"antiAffinity,omitempty"`
}

// MaxRolloutBytes bounds the JSON of one Rollout Parse reads.
const MaxRolloutBytes = 1 << 20

// Parse reads a Rollout from an object. Unknown fields, fields converge
// cannot honour (wrapping ErrUnsupported) and inconsistent specs are
// errors that name the field.
func Parse(obj *unstructured.Unstructured) (*Rollout, error) {
	if obj == nil {
		return nil, errors.New("rollout: nil object")
	}
	if obj.GetAPIVersion() != APIVersion || obj.GetKind() != Kind {
		return nil, fmt.Errorf("rollout: %s %s is not a %s %s", obj.GetAPIVersion(), obj.GetKind(), APIVersion, Kind)
	}
	name := obj.GetNamespace() + "/" + obj.GetName()
	spec, ok := obj.Object["spec"]
	if !ok {
		return nil, fmt.Errorf("rollout %s: spec is missing", name)
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("rollout %s: spec: %w", name, err)
	}
	if len(data) > MaxRolloutBytes {
		return nil, fmt.Errorf("rollout %s: spec is %d bytes, more than %d", name, len(data), MaxRolloutBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	r := &Rollout{Name: obj.GetName(), Namespace: obj.GetNamespace(), Labels: obj.GetLabels(), Annotations: obj.GetAnnotations()}
	if err := dec.Decode(&r.Spec); err != nil {
		return nil, fmt.Errorf("rollout %s: spec: %w", name, err)
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("rollout %s: %w", name, err)
	}
	return r, nil
}

// ID is the Rollout object's.
func (r *Rollout) ID() object.ID {
	return object.ID{Group: Group, Kind: Kind, Namespace: r.Namespace, Name: r.Name}
}

// String is "namespace/name".
func (r *Rollout) String() string { return r.Namespace + "/" + r.Name }

// Replicas is spec.replicas, 1 when unset.
func (r *Rollout) Replicas() int32 {
	if r.Spec.Replicas == nil {
		return 1
	}
	return *r.Spec.Replicas
}

// ProgressDeadline is spec.progressDeadlineSeconds, 600 s when unset.
func (r *Rollout) ProgressDeadline() time.Duration {
	if r.Spec.ProgressDeadlineSeconds == nil {
		return 600 * time.Second
	}
	return time.Duration(*r.Spec.ProgressDeadlineSeconds) * time.Second
}

// steps are the canary's steps, none for blue-green.
func (r *Rollout) steps() []CanaryStep {
	if c := r.Spec.Strategy.Canary; c != nil {
		return c.Steps
	}
	return nil
}
