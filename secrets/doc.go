// Package secrets keeps secret values out of plain Git and out of every
// output: it resolves references to external stores, renders
// ExternalSecret-shaped specs into Secrets, and masks values.
//
// Its subpackages do the rest:
//
//   - secrets/sops reads and writes SOPS documents with keys handed in as
//     values, verifies their MACs, and decrypts inside the render pipeline;
//   - secrets/sealed seals and unseals Sealed Secrets offline;
//   - secrets/vault, secrets/kube and secrets/webhook are Providers for
//     HashiCorp Vault KV v2, Kubernetes Secrets and HTTP/JSON stores.
//
// A Provider is the one interface every store implements; hosts write
// their own for a store converge does not ship (ProviderFunc adapts a
// function).
package secrets
