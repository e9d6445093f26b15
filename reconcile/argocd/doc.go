// Package argocd loads Argo CD Applications, ApplicationSets and
// AppProjects, as users already write them, into reconcile.Units:
//
//	res, err := argocd.Load(file, argocd.DefaultOptions())
//	if err != nil {
//		return err // Application argocd/shop: spec.source.plugin.name: config management plugin "cmp" is not supported: ...
//	}
//	for _, w := range res.Warnings {
//		log.Info(w.String()) // Application argocd/shop: spec.syncPolicy.syncOptions[1]: converge always applies server-side
//	}
//	err = loop.Set(res.Units...)
//
// Every field of every document is mapped onto the unit, accepted with a
// Warning (what converge does instead), or refused with a *FieldError
// naming the object and the field's path; a field Load does not know (a
// typo, a newer Argo CD's) is refused too (ErrUnknownField). Nothing is
// dropped silently, except status. A refused document fails the whole Load.
//
// # Applications
//
//	metadata.name, .namespace        Unit.Name, .Namespace (Options.Namespace, then "argocd")
//	metadata.generation              Unit.Generation
//	metadata.finalizers              resources-finalizer.argocd.argoproj.io[/foreground|/background]:
//	                                 Result.Cascades; others warned
//	metadata.annotations             *.argoproj.io/ keys warned (notifications, image updater)
//	spec.project                     "default" when empty; with its AppProject in the input
//	                                 Unit.Restrictions; otherwise a Warning, or ErrMissing
//	                                 with Options.RequireProjects
//	spec.source.repoURL              Source.URL (checked by git.ParseURL)
//	spec.source.targetRevision       Source.Ref: HEAD or none → Options.DefaultBranch ("main",
//	                                 warned); a semver constraint that is not a version
//	                                 ("~1.4", ">=1.0 <2") → SemVer; 40 hex digits → Commit;
//	                                 refs/... → Name; another name → Options.ResolveRevision,
//	                                 else a Tag when it is a version ("v1.4.2") and a Branch
//	                                 otherwise; what a remote cannot serve (HEAD~1, abbreviated
//	                                 hashes) is refused
//	spec.source.path                 Unit.Path ("./" and "." cleaned)
//	spec.source.chart                refused: vendor the chart into Git
//	spec.source.plugin               argocd-vault-plugin[-kustomize|-helm]: Render.ResolveReferences; others refused
//	spec.source.kustomize            Render.Kind Kustomize; images (kustomize edit set image),
//	                                 namePrefix, nameSuffix, namespace, commonAnnotations,
//	                                 patches (inline), components → Render.Options;
//	                                 commonLabels only with labelWithoutSelector: true (converge's
//	                                 labels leave selectors alone); replicas,
//	                                 commonAnnotationsEnvsubst, patch files and options refused;
//	                                 version, kubeVersion, apiVersions warned
//	spec.source.helm                 Render.Kind Helm; releaseName, valueFiles (and $ref/ files of
//	                                 a ref: source), values (YAML text, bounded decoder),
//	                                 valuesObject (wins over values, as in Argo CD), parameters,
//	                                 skipCrds, kubeVersion, apiVersions → Render.Helm;
//	                                 fileParameters, URL value files, a namespace other than the
//	                                 destination's, version other than v3 refused; skipTests,
//	                                 skipSchemaValidation, passCredentials, ignoreMissingValueFiles warned
//	spec.source.directory            Render.Kind Plain; recurse → Render.Recurse; include and
//	                                 exclude globs → Render.Options.Ignore where .gitignore has an
//	                                 exact equivalent (name, *suffix, dir/*, dir/*suffix, {a,b}),
//	                                 refused otherwise; jsonnet settings refused
//	spec.sources                     one source; or one source and ref: sources of the same
//	                                 repository and revision; anything else refused
//	spec.destination                 server or name → Destination.Cluster ("" for
//	                                 https://kubernetes.default.svc and in-cluster);
//	                                 namespace → Destination.Namespace
//	spec.syncPolicy.automated        prune, selfHeal, allowEmpty → Sync; absent (or enabled:
//	                                 false) → Sync.Manual
//	spec.syncPolicy.syncOptions      CreateNamespace → Sync.CreateNamespace;
//	                                 PrunePropagationPolicy → Sync.PropagationPolicy;
//	                                 Force=true → Sync.Recreate; FailOnSharedResource=true is
//	                                 converge's default (RefuseShared; =false warned: Argo CD
//	                                 would take the object over); PruneLast, ServerSideApply,
//	                                 ApplyOutOfSyncOnly, RespectIgnoreDifferences,
//	                                 SkipDryRunOnMissingResource, Replace=true, Validate=false
//	                                 warned (converge's design already covers them, or applies
//	                                 server-side instead); Prune and Delete (object options) and
//	                                 unknown keys refused; values other than true and false refused
//	spec.syncPolicy.retry            Unit.Retry: limit (<0 forever; 0, "no retry" to Argo CD, is
//	                                 one retry, warned), backoff duration ("5s" or seconds),
//	                                 factor, maxDuration, with Argo CD's defaults 5s, 2, 3m
//	spec.syncPolicy.managedNamespaceMetadata  refused
//	spec.ignoreDifferences           diff.IgnoreRule: group and kind ("*" is any), name,
//	                                 namespace, jsonPointers, managedFieldsManagers, and
//	                                 jqPathExpressions translated to converge's paths for paths,
//	                                 [] and select(.key == value), refused otherwise
//	spec.info, spec.revisionHistoryLimit, operation   warned
//	spec.sourceHydrator              refused
//	status                           ignored
//
// Without spec.syncPolicy.retry a unit gets the Loop's retry policy, where
// Argo CD does not retry a failed automated sync of the same revision.
//
// # ApplicationSets
//
// The list generator is expanded as Argo CD's default (fasttemplate) mode
// does: each element's keys, and "values.<key>" for its values mapping,
// replace {{key}} in every string and key of spec.template; a name that is
// no parameter stays as it is, with a Warning. Element values that are
// booleans or numbers are used as their text (Argo CD takes strings only:
// warned), and a boolean or integer field whose template value is a
// parameter ("prune: '{{autoSync}}'") takes the substituted "true" or
// "false" (or digits); anything else there is an error naming the element
// and the field. The other generators, selectors, goTemplate,
// templatePatch and progressive syncs are refused; the ApplicationSet's
// own syncPolicy, preservedFields and ignoreApplicationDifferences are
// warned: converge has no ApplicationSet controller, the host owns the
// units.
//
// # AppProjects
//
// sourceRepos, destinations (server and name, each a pattern with the
// namespace), clusterResourceWhitelist and Blacklist,
// namespaceResourceWhitelist and Blacklist become reconcile.Restrictions;
// sourceNamespaces is checked against each Application's namespace.
// Negated patterns, syncWindows (a reconcile.Gate does this),
// signatureKeys, destinationServiceAccounts and
// permitOnlyProjectScopedClusters are refused; description, roles and
// orphanedResources are warned. An empty group is the core group, as in
// Argo CD.
package argocd
