package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/secrets"
	"github.com/converge-dev/converge/secrets/sops"
	"github.com/converge-dev/converge/source"
)

// SOPSOptions configure the decryption of units whose Decryption.Provider
// is "sops", as Flux's kustomize-controller decrypts: files the renderer
// reads (Kustomize secret generators, Helm values, manifests) are
// decrypted as they are read, and any object still carrying SOPS
// metadata after the render is decrypted too. Keys are values; nothing is
// read from the environment or the home directory.
type SOPSOptions struct {
	// AgeKeys are age identity files (age-keygen output, or OpenSSH
	// private keys age accepts), used for every unit that asks for SOPS.
	AgeKeys [][]byte
	// PGPKeys are armored OpenPGP private keys, used for every such unit.
	PGPKeys [][]byte
	// KeyService decrypts data keys of other kinds (cloud KMS, Vault
	// transit); nil refuses them.
	KeyService sops.KeyService
	// FromSecretRef also reads the keys of the Secret the unit's
	// Decryption.SecretRef names, in the unit's namespace, as Flux does:
	// entries ending in ".agekey" are age identities, ".asc" armored
	// OpenPGP keys. Without it a SecretRef is refused, not ignored.
	FromSecretRef bool
}

// WithSOPS decrypts SOPS for units that ask for it (Unit.Decryption with
// Provider "sops").
func WithSOPS(o SOPSOptions) Option {
	return func(r *Reconciler) { r.sops = &o }
}

// decryptorFor returns the SOPS decryptor of u and a hash of its keys (for
// the render key, so new keys render again), or nil when u asks for no
// SOPS decryption.
func (r *Reconciler) decryptorFor(ctx context.Context, entry *clusterEntry, u *Unit, st *unitState) (*sops.Decryptor, string, error) {
	if u.Decryption == nil || u.Decryption.Provider != "sops" || r.sops == nil {
		return nil, "", nil
	}
	age := slices.Clone(r.sops.AgeKeys)
	pgp := slices.Clone(r.sops.PGPKeys)
	if ref := u.Decryption.SecretRef; ref != "" {
		if !r.sops.FromSecretRef {
			return nil, "", fmt.Errorf("decryption secretRef %s: the Reconciler reads no key Secrets (SOPSOptions.FromSecretRef)", ref)
		}
		ns := u.Namespace
		if ns == "" {
			ns = "default"
		}
		data, err := entry.Secret(ctx, ns, ref)
		if err != nil {
			return nil, "", fmt.Errorf("decryption secretRef: %w", err)
		}
		found := 0
		for _, k := range slices.Sorted(maps.Keys(data)) {
			switch {
			case strings.HasSuffix(k, ".agekey"):
				age = append(age, data[k])
				found++
			case strings.HasSuffix(k, ".asc"):
				pgp = append(pgp, data[k])
				found++
			}
		}
		if found == 0 {
			return nil, "", fmt.Errorf("decryption secretRef %s/%s holds no .agekey or .asc entry", ns, ref)
		}
	}
	opts := make([]sops.Option, 0, len(age)+len(pgp)+1)
	h := sha256.New()
	for _, k := range age {
		opts = append(opts, sops.WithAgeKeys(k))
		fmt.Fprintf(h, "age:%d:%s\n", len(k), k)
	}
	for _, k := range pgp {
		opts = append(opts, sops.WithPGPKeys(k))
		fmt.Fprintf(h, "pgp:%d:%s\n", len(k), k)
	}
	if r.sops.KeyService != nil {
		opts = append(opts, sops.WithKeyService(r.sops.KeyService))
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if st.decryptor != nil && st.decryptorKey == sum {
		return st.decryptor, sum, nil
	}
	d, err := sops.NewDecryptor(opts...)
	if err != nil {
		return nil, "", fmt.Errorf("decryption keys: %w", err)
	}
	st.decryptor, st.decryptorKey = d, sum
	return d, sum, nil
}

// decrypting returns snap with its files decrypted as they are read.
func decrypting(ctx context.Context, d *sops.Decryptor, snap *source.Snapshot) *source.Snapshot {
	if d == nil {
		return snap
	}
	out := *snap
	out.FS = d.FSContext(ctx, snap.FS)
	return &out
}

// decrypted runs d's Processor on what was rendered from snap (through
// decrypting) and marks, in objects that are not Secrets, the fields that
// hold a value decrypted from a file, so diffs and plans mask them.
func decrypted(ctx context.Context, d *sops.Decryptor, snap *source.Snapshot, set *object.Set) (*object.Set, error) {
	set, err := d.Processor().Process(ctx, set)
	if err != nil {
		return nil, err
	}
	values := sops.Plaintexts(snap.FS)
	if len(values) == 0 {
		return set, nil
	}
	for _, obj := range set.Objects() {
		marked := obj.DeepCopy()
		secrets.MarkSensitive(marked, values)
		if len(marked.GetAnnotations()) != len(obj.GetAnnotations()) || marked.GetAnnotations()[object.AnnotationSensitive] != obj.GetAnnotations()[object.AnnotationSensitive] {
			if err := set.Replace(marked); err != nil {
				return nil, err
			}
		}
	}
	return set, nil
}

// refuseCiphertext fails a render that would apply SOPS ciphertext: an
// object with SOPS metadata is either decrypted or never applied.
func refuseCiphertext(set *object.Set) error {
	for id, obj := range set.All() {
		if m, ok := obj.Object["sops"].(map[string]any); ok && (m["mac"] != nil || m["version"] != nil) {
			src := set.Source(id)
			if src != "" {
				src = " (" + src + ")"
			}
			return fmt.Errorf("%s%s is SOPS-encrypted and the unit decrypts nothing: set its decryption (provider sops) and give the Reconciler keys (WithSOPS)", id, src)
		}
	}
	return nil
}

// DecryptingRenderer returns rd reading through d: SOPS files are
// decrypted as they are read and SOPS objects after the render, failing
// closed. Hosts that render outside a pass (a diff between revisions)
// use it; a pass decrypts by WithSOPS.
func DecryptingRenderer(rd Renderer, d *sops.Decryptor) Renderer {
	return RendererFunc(func(ctx context.Context, u *Unit, snap *source.Snapshot) (*object.Set, error) {
		snap = decrypting(ctx, d, snap)
		set, err := rd.Render(ctx, u, snap)
		if err != nil {
			return nil, err
		}
		return decrypted(ctx, d, snap, set)
	})
}

// WithReferences resolves store references (argocd-vault-plugin
// placeholders, vals refs; see secrets.References) in the objects of
// units with Render.ResolveReferences. Values are read again at least
// every refresh (0: only when the revision or the unit's inputs change),
// as Argo CD's hard refresh re-reads them.
func WithReferences(stores secrets.ReferenceStores, refresh time.Duration) Option {
	return func(r *Reconciler) { r.references = &referenceOptions{stores: stores, refresh: refresh} }
}

type referenceOptions struct {
	stores  secrets.ReferenceStores
	refresh time.Duration
}

// errNoReferenceStores: the unit resolves references and the Reconciler
// has no stores; its placeholders must not reach the cluster.
var errNoReferenceStores = errors.New("the unit resolves secret references (argocd-vault-plugin, vals) and the Reconciler has no stores for them (WithReferences)")

// resolveReferences resolves the references in set when u asks for it.
func (r *Reconciler) resolveReferences(ctx context.Context, u *Unit, set *object.Set) (*object.Set, error) {
	if !u.Render.ResolveReferences {
		return set, nil
	}
	if r.references == nil {
		return nil, errNoReferenceStores
	}
	return secrets.References(r.references.stores).Process(ctx, set)
}

// reuseFor is how long u's render may be reused while its inputs stay
// the same: the shortest refresh of its steps and references, 0 for as
// long as they stay.
func (r *Reconciler) reuseFor(u *Unit) time.Duration {
	every := refreshEvery(r.steps)
	if u.Render.ResolveReferences && r.references != nil && r.references.refresh > 0 && (every == 0 || r.references.refresh < every) {
		every = r.references.refresh
	}
	return every
}
