package testenv

// LabelContainerWaiting, set on a Pod (or a pod template) of a living
// plane, makes kwok keep the Pod's containers waiting with the label's
// value as the reason, the way a kubelet reports a container it cannot
// start: "ImagePullBackOff" or "ErrImagePull" keep the Pod Pending and never
// Ready, like an image that cannot be pulled; "CrashLoopBackOff" makes the
// Pod Running but never Ready, with restarts and a last exit code of 1,
// like a container that keeps crashing. Any other value is used as the
// waiting reason of a Pending Pod.
//
// A Deployment whose pods carry it never progresses, so the deployment
// controller marks it Progressing=False with reason
// ProgressDeadlineExceeded once its progressDeadlineSeconds pass.
const LabelContainerWaiting = "container-waiting.stage.converge.dev"

// StagesFile is the name, in the plane's folder, of the kwok Stage
// documents converge adds to the ones hack/testbin/build.sh takes from
// kwok's module. They live here rather than in the testbin cache so that
// changing them can never reuse a stale cached copy.
const StagesFile = "converge-stages.yaml"

// convergeStages are kwok Stages for the failures a kubelet reports and
// kwok's own stages do not. Each has a positive weight, so that kwok picks
// it over pod-ready (weight 0) for the Pods it selects, and each writes a
// status that depends only on the Pod (times from its creation), so that
// applying it again is a no-op that triggers no further event.
const convergeStages = `---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: converge-container-waiting
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.metadata.labels["` + LabelContainerWaiting + `"]'
      operator: 'Exists'
    - key: '.metadata.labels["` + LabelContainerWaiting + `"]'
      operator: 'NotIn'
      values:
      - 'CrashLoopBackOff'
    - key: '.status.phase'
      operator: 'In'
      values:
      - 'Pending'
    - key: '.spec.nodeName'
      operator: 'Exists'
  weight: 10000
  next:
    statusTemplate: |
      {{ $at := .metadata.creationTimestamp }}
      {{ $reason := index .metadata.labels "` + LabelContainerWaiting + `" }}
      conditions:
      - lastTransitionTime: {{ $at | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $at | Quote }}
        status: "False"
        reason: ContainersNotReady
        message: "containers with unready status"
        type: Ready
      - lastTransitionTime: {{ $at | Quote }}
        status: "False"
        reason: ContainersNotReady
        message: "containers with unready status"
        type: ContainersReady
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        imageID: ""
        name: {{ .name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          waiting:
            reason: {{ $reason | Quote }}
            message: {{ printf "Back-off pulling image %q" .image | Quote }}
      {{ end }}
      {{ with NodeIPWith .spec.nodeName }}
      hostIP: {{ . | Quote }}
      {{ end }}
      phase: Pending
      startTime: {{ $at | Quote }}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: converge-container-crash-loop
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.metadata.labels["` + LabelContainerWaiting + `"]'
      operator: 'In'
      values:
      - 'CrashLoopBackOff'
    - key: '.status.phase'
      operator: 'In'
      values:
      - 'Pending'
    - key: '.spec.nodeName'
      operator: 'Exists'
  weight: 10000
  next:
    statusTemplate: |
      {{ $at := .metadata.creationTimestamp }}
      conditions:
      - lastTransitionTime: {{ $at | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $at | Quote }}
        status: "False"
        reason: ContainersNotReady
        message: "containers with unready status"
        type: Ready
      - lastTransitionTime: {{ $at | Quote }}
        status: "False"
        reason: ContainersNotReady
        message: "containers with unready status"
        type: ContainersReady
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        imageID: ""
        name: {{ .name | Quote }}
        ready: false
        restartCount: 3
        started: false
        lastState:
          terminated:
            exitCode: 1
            reason: Error
            startedAt: {{ $at | Quote }}
            finishedAt: {{ $at | Quote }}
        state:
          waiting:
            reason: CrashLoopBackOff
            message: {{ printf "back-off 40s restarting failed container=%s" .name | Quote }}
      {{ end }}
      {{ with NodeIPWith .spec.nodeName }}
      hostIP: {{ . | Quote }}
      {{ end }}
      {{ with PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
      podIP: {{ . | Quote }}
      {{ end }}
      phase: Running
      startTime: {{ $at | Quote }}
`
