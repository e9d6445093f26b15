// Package rollout runs Argo Rollouts' canary and blue-green strategies
// without the Rollouts controller or its CRDs.
package rollout
