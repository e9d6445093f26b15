// Package sops reads and writes SOPS documents (the format of the sops
// CLI, v3.13.2) without importing sops itself, whose root package pulls
// its key service and some 200 cloud-SDK packages into every build.
//
//	d, err := sops.NewDecryptor(sops.WithAgeKeys(ageKeyFile))
//	plain, err := d.Decrypt(ctx, "secrets/db.enc.yaml", data, sops.FormatYAML)
//
// Decrypt returns the document exactly as `sops -d` prints it: YAML (with
// several documents and comments), JSON, dotenv, INI and binary files;
// values of every type sops writes; key groups split with Shamir's secret
// sharing; and the selectors (unencrypted_suffix, encrypted_regex,
// encrypted_comment_regex, mac_only_encrypted and the others). The tests
// prove both directions against the real CLI.
//
// # Keys
//
// A Decryptor holds only the keys handed to it: age identities
// ([WithAgeKeys]), armored OpenPGP private keys ([WithPGPKeys]) and, for
// cloud KMS and Vault master keys, a host's [KeyService]. It never reads
// environment variables, home directories, key files or a gpg agent.
// Malformed keys fail NewDecryptor with [ErrInvalidKey].
//
// # Integrity
//
// The document's MAC is verified by default; a document whose MAC is
// missing, does not decrypt, or does not match its values is refused with
// [ErrMACMismatch]. As in sops, the MAC covers every value (only the
// encrypted ones with mac_only_encrypted) and their order, not the keys of
// plaintext values, not comments, and not null or empty values; the keys of
// encrypted values are bound to them as AES-GCM additional data. An error
// never contains a secret value or key material: only file and object
// names, value paths, key recipients and fingerprints.
//
// # Rendering
//
// [Decryptor.FS] wraps a file system so that Kustomize (secretGenerator
// files and envs, resources) and Helm (values files) read SOPS files as
// plaintext; [Decryptor.Processor] decrypts objects that still carry sops
// metadata after rendering and fails closed on any ciphertext left:
//
//	r := render.Then(kustomize.New(), d.Processor())
//	set, err := r.Render(ctx, d.FS(fsys), "apps/shop/overlays/prod", render.DefaultOptions())
//
// # Encryption
//
// [Encrypt] writes documents the sops CLI decrypts, to age recipients and
// OpenPGP public keys, with the [Rule] that [ParseConfig] and
// [Config.Rule] read from a .sops.yaml as sops picks it.
package sops
