// Package vault is a [secrets.Provider] over a HashiCorp Vault KV version 2
// secrets engine, spoken to over Vault's HTTP API with net/http alone (no
// Vault client library).
//
//	p, err := vault.New("https://vault:8200",
//		vault.KubernetesAuth("converge", vault.ServiceAccountToken(""), ""),
//		vault.WithMount("secret"))
//	password, err := p.Value(ctx, "app/db", "password")
//
// # Keys
//
// A key is a secret's path under the mount, in one of two forms, each with
// an optional "?version=N" suffix that pins version N (the latest when
// absent):
//
//   - "app/db", the path under the mount (External Secrets' remoteRef.key
//     with the store's path set to the mount);
//   - "secret/data/app/db", the mount and KV version 2's "data/" segment, as
//     the Vault API and argocd-vault-plugin's <path:secret/data/app/db#key>
//     write it. This form wins: under mount "secret", "secret/data/x" reads
//     "x", never a secret whose own path starts "secret/data/";
//   - "secret/app/db", the mount and the path, as vals writes
//     ref+vault://secret/app/db and KV version 1 paths read: under mount
//     "secret" it reads "app/db" (so a secret whose own path starts with
//     the mount's name needs one of the other forms).
//
// Both read GET /v1/secret/data/app/db. A key with an empty, "." or ".."
// segment, "?" other than the version, or "#" is refused with
// [ErrInvalidKey] before any request.
//
// # Values
//
// A KV version 2 secret's data is a JSON object; each top-level name is a
// property. A JSON string becomes its bytes, null an empty value, and any
// other value (a number, a boolean, an object, a list) its JSON text as
// Vault sent it, compacted: {"port": 5432, "tls": {"on": true}} gives
// "5432" and `{"on":true}`, as External Secrets gives objects. Vault itself
// keeps JSON numbers as 64-bit floats, so a number beyond that precision is
// rounded when it is written (12345678901234567890123 reads back as
// 1.2345678901234568e+22): store such values as strings.
//
// # Lists
//
// List walks the folder it is given recursively, one request per folder,
// and returns every secret's key in the "app/db" form, sorted.
//
// # Authentication
//
// [TokenAuth] sends a fixed token. [KubernetesAuth] logs in with a
// service account JWT at /v1/auth/<mount>/login, caches the client token
// until its lease nears its end, and logs in again when Vault refuses it
// (any 403: Vault's answer does not reliably tell a revoked token from a
// policy that denies the path, so a read the policy denies costs a login
// and a retry). [AuthFunc] adapts any other login; it receives a [Login]
// that reaches the same Vault.
//
// # Errors
//
// Every error is an [*Error] naming the Vault address, the operation and
// the key, never a value or a token: Vault's own messages are bounded and
// have the token and JWT redacted, and an answer that is not Vault's JSON
// (a proxy's HTML page) is described by its content type and size, never
// quoted. A missing secret, property or version wraps
// [secrets.ErrNotFound] (a deleted or destroyed version also
// [ErrDeleted] or [ErrDestroyed]); a refused token [ErrForbidden]; an
// unreachable or slow Vault [ErrUnavailable] (a timeout also
// context.DeadlineExceeded); a foreign answer [ErrBadResponse]; one over
// the size bound [ErrTooLarge].
//
// Nothing is cached but the token: every Map, Value and List asks Vault.
package vault
