package health

import "fmt"

// CEL snippets shared by the built-in rules.

// cond is true when the object has a condition of type t with status s.
func cond(t, s string) string {
	return fmt.Sprintf("(has(conditions.%s) && conditions.%s.status == %q)", t, t, s)
}

// hasCond is true when the object has a condition of type t.
func hasCond(t string) string {
	return fmt.Sprintf("has(conditions.%s)", t)
}

// observed is true when status.observedGeneration equals metadata.generation.
const observed = "(has(self.status) && has(self.status.observedGeneration) && has(self.metadata.generation) && self.status.observedGeneration == self.metadata.generation)"

// notStale is true unless status.observedGeneration is set and behind.
const notStale = "(!has(self.status) || !has(self.status.observedGeneration) || !has(self.metadata.generation) || self.status.observedGeneration == self.metadata.generation)"

// BuiltinRules returns converge's CEL rules for the custom resources
// platform teams run most. [New] includes them after the host's rules.
//
//   - Flux: Kustomization, HelmRelease, GitRepository (and the other Flux
//     sources: OCIRepository, HelmRepository, HelmChart, Bucket): suspended
//     is Suspended; Reconciling or an unobserved generation is Progressing;
//     Stalled, or Ready False once the generation is observed, is Degraded;
//     Ready True at the observed generation is Healthy.
//   - Argo Rollouts Rollout: status.phase (Healthy, Progressing, Paused,
//     Degraded) once status.observedGeneration (a string) is current.
//   - cert-manager Certificate, Issuer, ClusterIssuer: Ready; a Certificate
//     being issued is Progressing.
//   - Sealed Secrets SealedSecret: Synced.
//   - External Secrets ExternalSecret, ClusterExternalSecret, SecretStore,
//     ClusterSecretStore: Ready.
//   - Crossplane managed resources of Upbound's providers (*.upbound.io):
//     Synced and Ready; use [CrossplaneRule] for other groups.
//   - CloudNativePG Cluster: status.phase and Ready.
func BuiltinRules() []Rule {
	var rules []Rule
	for _, gk := range [][2]string{
		{"kustomize.toolkit.fluxcd.io", "Kustomization"},
		{"helm.toolkit.fluxcd.io", "HelmRelease"},
		{"source.toolkit.fluxcd.io", "GitRepository"},
		{"source.toolkit.fluxcd.io", "OCIRepository"},
		{"source.toolkit.fluxcd.io", "HelmRepository"},
		{"source.toolkit.fluxcd.io", "HelmChart"},
		{"source.toolkit.fluxcd.io", "Bucket"},
	} {
		rules = append(rules, fluxRule(gk[0], gk[1]))
	}
	const phase = "(has(self.status) && has(self.status.phase) ? self.status.phase : '')"
	rolloutGen := "(has(self.status) && has(self.status.observedGeneration) && string(self.status.observedGeneration) == string(self.metadata.generation))"
	rules = append(rules,
		Rule{
			Group: "argoproj.io", Kind: "Rollout",
			Progressing: "!" + rolloutGen + " || " + phase + " == 'Progressing' || " + phase + " == ''",
			Degraded:    phase + " == 'Degraded'",
			Suspended:   phase + " == 'Paused'",
			Healthy:     phase + " == 'Healthy'",
			Message:     "has(self.status) && has(self.status.message) ? string(self.status.message) : " + phase,
		},
		Rule{
			Group: "cert-manager.io", Kind: "Certificate",
			Progressing: cond("Issuing", "True") + " || !" + hasCond("Ready") + " || !" + notStale,
			Degraded:    cond("Ready", "False"),
			Healthy:     cond("Ready", "True"),
			Message:     readyMessage("Ready"),
		},
		issuerRule("cert-manager.io", "Issuer"),
		issuerRule("cert-manager.io", "ClusterIssuer"),
		Rule{
			Group: "bitnami.com", Kind: "SealedSecret",
			Progressing: "!" + notStale + " || !" + hasCond("Synced"),
			Degraded:    cond("Synced", "False"),
			Healthy:     cond("Synced", "True"),
			Message:     readyMessage("Synced"),
		},
		issuerRule("external-secrets.io", "ExternalSecret"),
		issuerRule("external-secrets.io", "ClusterExternalSecret"),
		issuerRule("external-secrets.io", "SecretStore"),
		issuerRule("external-secrets.io", "ClusterSecretStore"),
		CrossplaneRule("*.upbound.io"),
		Rule{
			Group: "postgresql.cnpg.io", Kind: "Cluster",
			Degraded: phase + ".startsWith('Cluster is in an unrecoverable state') || " + phase +
				" == 'Unable to create required cluster objects' || " + phase + ".startsWith('Cluster cannot proceed')",
			Healthy: phase + " == 'Cluster in healthy state' && " + cond("Ready", "True"),
			Message: phase,
		},
	)
	return rules
}

func fluxRule(group, kind string) Rule {
	suspended := "(has(self.spec) && has(self.spec.suspend) && self.spec.suspend == true)"
	return Rule{
		Group: group, Kind: kind,
		InProgress: "!" + suspended + " && (" + cond("Reconciling", "True") + " || !" + observed + ")",
		Failed:     "!" + suspended + " && (" + cond("Stalled", "True") + " || " + cond("Ready", "False") + ")",
		Suspended:  suspended,
		Current:    cond("Ready", "True") + " && " + observed,
		Message:    readyMessage("Ready"),
	}
}

// issuerRule is a plain Ready-condition rule, respecting observedGeneration
// when the controller sets it.
func issuerRule(group, kind string) Rule {
	return Rule{
		Group: group, Kind: kind,
		Progressing: "!" + hasCond("Ready") + " || !" + notStale,
		Degraded:    cond("Ready", "False"),
		Healthy:     cond("Ready", "True"),
		Message:     readyMessage("Ready"),
	}
}

// CrossplaneRule returns the rule for Crossplane managed and composite
// resources of the given group (a group or "*.suffix"): Synced False (or
// a failed LastAsyncOperation) is Degraded; Synced True and Ready True is
// Healthy; anything else is Progressing.
func CrossplaneRule(group string) Rule {
	return Rule{
		Group: group, Kind: "*",
		Degraded: cond("Synced", "False") + " || " + cond("LastAsyncOperation", "False"),
		Healthy:  cond("Synced", "True") + " && " + cond("Ready", "True"),
		Message:  readyMessage("Synced"),
	}
}

// readyMessage returns the message of the condition t, or "".
func readyMessage(t string) string {
	return fmt.Sprintf("has(conditions.%s) && has(conditions.%s.message) ? string(conditions.%s.message) : ''", t, t, t)
}
