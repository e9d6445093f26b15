// Package sealed seals and unseals Bitnami Sealed Secrets offline, in the
// format of sealed-secrets v0.27.1: what kubeseal seals, converge
// unseals, and what converge seals, kubeseal --recovery-unseal and the
// controller unseal.
//
// Each value is sealed on its own: a fresh AES-256-GCM key encrypts it,
// and RSA-OAEP (SHA-256) wraps that key under the controller's public
// key, with the scope as the OAEP label ("namespace/name" for strict,
// "namespace" for namespace-wide, empty for cluster-wide), so a value
// does not unseal under a name or namespace it was not sealed for.
//
// Seal, as kubeseal --cert does:
//
//	pub, err := sealed.ParsePublicKey(certPEM) // or sealed.FetchCertificate(ctx, client, "", "")
//	ss, err := sealed.Seal(rand.Reader, pub, secret, sealed.ScopeStrict)
//
// Unseal, as the controller (or kubeseal --recovery-unseal) does, with
// every key the controller ever had:
//
//	keys, err := sealed.ParsePrivateKeys(exportedKeySecretsYAML)
//	secret, err := keys.Unseal(ss)
//
// or in a render pipeline, for clusters that run no controller:
//
//	renderer := render.Then(kustomize.New(), sealed.Processor(keys))
//
// # Errors
//
// Errors name the SealedSecret (namespace/name) and the data key, never a
// value; a renamed, moved or altered SealedSecret fails with
// [ErrNoKeyDecrypts] wrapped in an [*Error].
package sealed
