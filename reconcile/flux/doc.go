// Package flux loads Flux GitRepositories and Kustomizations, as users
// already write them, into reconcile.Units: one unit per Kustomization,
// its source the GitRepository its sourceRef names.
//
//	res, err := flux.Load(file, flux.DefaultOptions())
//	if err != nil {
//		return err // Kustomization flux-system/apps: spec.sourceRef.kind: OCIRepository sources are not supported: ...
//	}
//	for _, w := range res.Warnings {
//		log.Info(w.String())
//	}
//	err = loop.Set(res.Units...)
//
// Every field of every document is mapped onto the unit, accepted with a
// Warning (what converge does instead), or refused with a *FieldError
// naming the object and the field's path; a field Load does not know (a
// typo, a newer Flux's) is refused too (ErrUnknownField). Nothing is
// dropped silently, except status. A refused document fails the whole
// Load. Image automation documents (image.toolkit.fluxcd.io) are not
// units: they are listed in Result.Skipped, with a Warning, for image
// promotion (the promote package, which is planned).
//
// # GitRepository (source.toolkit.fluxcd.io v1, v1beta2)
//
//	spec.url                  Source.URL (checked by git.ParseURL)
//	spec.ref                  Source.Ref with Flux's precedence: commit (with branch: searched
//	                          there), then name, semver, tag, branch; the losers are warned;
//	                          none is the branch "master", Flux's default
//	spec.secretRef            Source.SecretRef, read from the unit's (the Kustomization's)
//	                          namespace: a Kustomization in another namespace than its
//	                          GitRepository with a secretRef is refused
//	spec.interval             with the Kustomization's: Unit.Interval is the shorter
//	spec.timeout              warned: the unit's timeout bounds its fetch
//	spec.ignore               Source.Ignore, one pattern a line (comments and blank lines dropped)
//	spec.recurseSubmodules    Source.Submodules
//	spec.verify               Source.Verify: mode (HEAD, Tag, TagAndHEAD), keys from
//	                          Options.VerifyKeys; refused without it
//	spec.suspend              the units of the source are suspended (warned: converge fetches
//	                          at every pass and cannot keep serving the last artifact)
//	spec.provider             generic only; others refused
//	spec.include, .proxySecretRef, .sparseCheckout, .serviceAccountName   refused
//	spec.gitImplementation, .accessFrom (v1beta2)                          warned
//
// # Kustomization (kustomize.toolkit.fluxcd.io v1, v1beta2)
//
//	metadata.name, .namespace Unit.Name, .Namespace (Options.Namespace, then "flux-system")
//	metadata.generation       Unit.Generation
//	spec.sourceRef            GitRepository in the input (namespace defaults to the
//	                          Kustomization's), or Options.ResolveSource, else ErrMissing;
//	                          OCIRepository, Bucket, ExternalArtifact refused
//	spec.interval             Unit.Interval (the shorter of it and the GitRepository's: new
//	                          commits are seen as often as Flux sees them, drift is corrected
//	                          at least as often, and an unchanged pass costs one listing)
//	spec.retryInterval        Unit.Retry{Backoff: retryInterval, Factor: 1}; the interval when absent
//	spec.timeout              Unit.Timeout; the interval when absent, as in Flux
//	spec.path                 Unit.Path, joined to the source's root as Flux does ("./x", "/x"
//	                          and "x" are one); a path that climbs out is refused
//	                          (Render.Recurse is set: Flux renders plain directories with
//	                          kustomize create --autodetect --recursive)
//	spec.prune                Sync.Prune
//	spec.force                Sync.Recreate
//	spec.suspend              Unit.Suspend
//	spec.targetNamespace      Destination.TargetNamespace
//	spec.serviceAccountName   Destination.ServiceAccount
//	spec.kubeConfig           Destination.Cluster named by Options.KubeConfigCluster; refused without it
//	spec.wait                 Health.Wait (healthChecks are then ignored, as in Flux: warned)
//	spec.healthChecks         Health.Checks (object.IDs)
//	spec.healthCheckExprs     Result.HealthRules: health.Rules whose expressions see the object
//	                          as self ("status.x" becomes "self.status.x"), compiled at load;
//	                          they are the health engine's, for every object of the kind (warned)
//	spec.dependsOn            Unit.DependsOn; a dependency on itself is refused (cycles are
//	                          the Loop's to refuse); readyExpr refused
//	spec.postBuild            substitute → Substitute.Vars, substituteFrom → Substitute.From
//	spec.decryption           Unit.Decryption (provider sops only); a pass fails unless the
//	                          Reconciler has a Step that decrypts sops (converge's secrets
//	                          package is planned)
//	spec.images, .patches, .components, .namePrefix, .nameSuffix, .commonMetadata
//	                          Render.Options (commonMetadata: CommonLabels and
//	                          CommonAnnotations, metadata only, as in Flux)
//	spec.patchesStrategicMerge, .patchesJson6902 (v1beta2)   Render.Options.Patches
//	spec.deletionPolicy       Result.Cascades: MirrorPrune (the default) when prune is set,
//	                          Delete and WaitForTermination always, Orphan never
//	spec.ignoreMissingComponents, .validation (v1beta2)      warned
//	status                    ignored
//
// A Flux unit never has Sync.SelfHeal: Flux corrects drift at every
// interval, which every pass of the unit does too.
package flux
