package reconcile_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"
	"github.com/go-logr/logr/funcr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/secrets"
	"github.com/converge-dev/converge/secrets/sealed"
	"github.com/converge-dev/converge/secrets/sops"
)

// secretsRepo is a unit's worth of every kind of secret converge handles,
// each holding its own marker plaintext: a SOPS-encrypted Secret, a
// Kustomize secret generator reading a SOPS-encrypted .env file, a
// SealedSecret, an ExternalSecret and an argocd-vault-plugin placeholder.
type secretsRepo struct {
	t         *testing.T
	identity  *age.X25519Identity
	sealKey   *rsa.PrivateKey
	ns        string
	store     map[string]map[string][]byte
	storeMu   sync.Mutex
	markers   []string
	notified  bytes.Buffer
	logged    bytes.Buffer
	outputsMu sync.Mutex
}

func newSecretsRepo(t *testing.T, ns string) *secretsRepo {
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return &secretsRepo{t: t, identity: id, sealKey: key, ns: ns}
}

// files returns the repository's files with markers made from suffix.
func (s *secretsRepo) files(suffix string) map[string]string {
	t := s.t
	m := func(kind string) string {
		v := "MARKER-" + kind + "-" + suffix
		s.markers = append(s.markers, v)
		return v
	}
	ctx := context.Background()
	rule := sops.Rule{KeyGroup: sops.KeyGroup{AgeRecipients: []string{s.identity.Recipient().String()}}, EncryptedRegex: "^(data|stringData)$"}
	secretYAML := fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: sops-secret\nstringData:\n  token: %s\n", m("sops"))
	encSecret, err := sops.Encrypt(ctx, "secret.enc.yaml", []byte(secretYAML), sops.FormatYAML, rule)
	require.NoError(t, err)
	encEnv, err := sops.Encrypt(ctx, "gen.env", []byte("PASSWORD="+m("dotenv")+"\n"), sops.FormatDotenv, sops.Rule{KeyGroup: rule.KeyGroup})
	require.NoError(t, err)

	cmYAML := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sops-config\ndata:\n  dsn: postgres://app:%s@db/app\n", m("cmsops"))
	encCM, err := sops.Encrypt(ctx, "config.enc.yaml", []byte(cmYAML), sops.FormatYAML, sops.Rule{KeyGroup: rule.KeyGroup, EncryptedRegex: "^data$"})
	require.NoError(t, err)

	plain := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sealed-secret", Namespace: s.ns}, Data: map[string][]byte{"v": []byte(m("sealed"))}}
	ss, err := sealed.Seal(rand.Reader, &s.sealKey.PublicKey, plain, sealed.ScopeStrict)
	require.NoError(t, err)
	sealedYAML, err := yaml.Marshal(ss.Object)
	require.NoError(t, err)

	s.storeMu.Lock()
	s.store = map[string]map[string][]byte{
		"prod/backend/db": {"password": []byte(m("external"))},
		"secret/data/avp": {"password": []byte(m("avp"))},
		"secret/data/cm":  {"token": []byte(m("cmavp"))},
	}
	s.storeMu.Unlock()

	return map[string]string{
		"app/kustomization.yaml": `resources: [secret.enc.yaml, config.enc.yaml, sealed.yaml, external.yaml, avp.yaml, avp-config.yaml]
secretGenerator:
- name: generated
  envs: [gen.env]
generatorOptions: {disableNameSuffixHash: true}
`,
		"app/secret.enc.yaml": string(encSecret),
		"app/gen.env":         string(encEnv),
		"app/sealed.yaml":     string(sealedYAML),
		"app/external.yaml": `apiVersion: external-secrets.io/v1beta1
kind: ExternalSecret
metadata: {name: external}
spec:
  refreshInterval: 1h
  secretStoreRef: {name: vault, kind: ClusterSecretStore}
  target: {name: external, creationPolicy: Owner}
  data:
  - secretKey: password
    remoteRef: {key: prod/backend/db, property: password}
`,
		"app/config.enc.yaml": string(encCM),
		"app/avp-config.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: registry.example/api:1
        env:
        - {name: TOKEN, value: "Bearer <path:secret/data/cm#token>"}
`,
		"app/avp.yaml": `apiVersion: v1
kind: Secret
metadata:
  name: avp
  annotations: {avp.kubernetes.io/path: secret/data/avp}
stringData:
  password: <password>
`,
	}
}

func (s *secretsRepo) provider() secrets.Provider {
	return secrets.ProviderFunc(func(ctx context.Context, key string) (map[string][]byte, error) {
		s.storeMu.Lock()
		defer s.storeMu.Unlock()
		m, ok := s.store[key]
		if !ok {
			return nil, fmt.Errorf("store: key %q: %w", key, secrets.ErrNotFound)
		}
		return m, nil
	})
}

func (s *secretsRepo) options(ageKey []byte) []reconcile.Option {
	keys, err := sealed.NewKeys(s.sealKey)
	require.NoError(s.t, err)
	stores := secrets.StoreMap{ClusterSecretStores: map[string]secrets.Provider{"vault": s.provider()}}
	return []reconcile.Option{
		reconcile.WithSOPS(reconcile.SOPSOptions{AgeKeys: [][]byte{ageKey}}),
		reconcile.WithReferences(secrets.ReferenceStores{AVP: s.provider()}, 0),
		reconcile.WithSteps(
			reconcile.ProcessorStep(sealed.Processor(keys)),
			reconcile.ProcessorStep(secrets.ExternalSecrets(stores, secrets.ExternalSecretsOptions{})),
		),
		reconcile.WithNotifier(reconcile.NotifierFunc(func(_ context.Context, e reconcile.Event) error {
			b, _ := json.Marshal(e)
			s.outputsMu.Lock()
			defer s.outputsMu.Unlock()
			fmt.Fprintf(&s.notified, "%s %+v\n", b, e)
			return nil
		})),
		reconcile.WithLogger(funcr.New(func(prefix, args string) {
			s.outputsMu.Lock()
			defer s.outputsMu.Unlock()
			fmt.Fprintln(&s.logged, prefix, args)
		}, funcr.Options{Verbosity: 10})),
	}
}

// leaks returns the markers found in any output of a pass.
func (s *secretsRepo) leaks(st reconcile.Status, err error) []string {
	var out bytes.Buffer
	b, _ := json.Marshal(st)
	out.Write(b)
	fmt.Fprintf(&out, "%+v\n%s\n", st, describe(st))
	if st.Result != nil {
		fmt.Fprintln(&out, st.Result.String())
		for _, o := range st.Result.Objects {
			if o.Diff != nil {
				fmt.Fprintf(&out, "%+v\n", *o.Diff)
				fmt.Fprintln(&out, o.Diff.String())
			}
		}
	}
	if err != nil {
		fmt.Fprintln(&out, err.Error())
		fmt.Fprintf(&out, "%+v %#v\n", err, err)
	}
	s.outputsMu.Lock()
	out.Write(s.notified.Bytes())
	out.Write(s.logged.Bytes())
	s.outputsMu.Unlock()
	var found []string
	for _, m := range s.markers {
		if strings.Contains(out.String(), m) {
			found = append(found, m)
		}
	}
	return found
}

func (f *fixture) secretValue(name, key string) string {
	f.t.Helper()
	var s corev1.Secret
	require.NoError(f.t, f.env.Client.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: name}, &s))
	return string(s.Data[key])
}

// Every kind of secret reaches the cluster decrypted, and no marker
// plaintext appears in a status, a plan's diffs, an error, a notification
// or a log line, on success, on change and on failure.
func TestSecretsReachTheClusterAndNoOutput(t *testing.T) {
	f := newFixture(t)
	repo := newSecretsRepo(t, f.ns)
	f.r = f.reconciler(repo.options([]byte(repo.identity.String()))...)
	f.repo.Commit(t, "secrets", repo.files("v1"))
	u := f.unit("secrets", "app")
	u.Decryption = &reconcile.Decryption{Provider: "sops"}
	u.Render.ResolveReferences = true

	st, err := f.r.Reconcile(f.ctx, u)
	require.NoError(t, err, describe(st))
	assert.Equal(t, "MARKER-sops-v1", f.secretValue("sops-secret", "token"))
	assert.Equal(t, "MARKER-dotenv-v1", f.secretValue("generated", "PASSWORD"))
	assert.Equal(t, "MARKER-sealed-v1", f.secretValue("sealed-secret", "v"))
	assert.Equal(t, "MARKER-external-v1", f.secretValue("external", "password"))
	assert.Equal(t, "MARKER-avp-v1", f.secretValue("avp", "password"))
	cm, err := f.configMap("sops-config")
	require.NoError(t, err)
	assert.Equal(t, "postgres://app:MARKER-cmsops-v1@db/app", cm.Data["dsn"])
	var dep appsv1.Deployment
	require.NoError(t, f.env.Client.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: "api"}, &dep))
	assert.Equal(t, "Bearer MARKER-cmavp-v1", dep.Spec.Template.Spec.Containers[0].Env[0].Value)
	assert.Empty(t, repo.leaks(st, err), "applied")

	// New values everywhere: the plan diffs them, masked.
	f.repo.Commit(t, "rotate", repo.files("v2"))
	plan, err := f.r.Plan(f.ctx, u)
	require.NoError(t, err, describe(plan))
	require.NotNil(t, plan.Result)
	changed := map[string]int{}
	for _, o := range plan.Result.Objects {
		if o.Diff != nil && o.Diff.Diff != "" {
			changed[o.ID.Kind]++
			assert.Contains(t, o.Diff.Diff, "***", "%s: the changed value is masked", o.ID)
		}
	}
	// The ExternalSecret's values are reused for its refreshInterval (1h):
	// its Secret does not change yet.
	assert.Equal(t, map[string]int{"Secret": 4, "ConfigMap": 1, "Deployment": 1}, changed, describe(plan))
	assert.Empty(t, repo.leaks(plan, err), "planned")
	st, err = f.r.Reconcile(f.ctx, u)
	require.NoError(t, err, describe(st))
	assert.Equal(t, "MARKER-sops-v2", f.secretValue("sops-secret", "token"))
	assert.Empty(t, repo.leaks(st, err), "applied again")

	// The wrong key: the pass fails at render, nothing is written.
	other, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	wrong := f.reconciler(repo.options([]byte(other.String()))...)
	f.repo.Commit(t, "v3", repo.files("v3"))
	st, err = wrong.Reconcile(f.ctx, u)
	var stageErr *reconcile.StageError
	require.ErrorAs(t, err, &stageErr)
	assert.Equal(t, reconcile.StageRender, stageErr.Stage)
	assert.Contains(t, err.Error(), "secret.enc.yaml")
	assert.Equal(t, "MARKER-sops-v2", f.secretValue("sops-secret", "token"), "nothing written")
	assert.Empty(t, repo.leaks(st, err), "wrong key")

	// A tampered ciphertext: the MAC check fails, nothing is written.
	files := repo.files("v4")
	enc := files["app/secret.enc.yaml"]
	i := strings.Index(enc, "ENC[AES256_GCM,data:") + len("ENC[AES256_GCM,data:")
	flipped := []byte(enc)
	flipped[i] ^= 0x01
	if flipped[i] == ',' || flipped[i] == ']' {
		flipped[i] = 'A'
	}
	files["app/secret.enc.yaml"] = string(flipped)
	f.repo.Commit(t, "tampered", files)
	st, err = f.r.Reconcile(f.ctx, u)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "secret.enc.yaml")
	assert.Equal(t, "MARKER-sops-v2", f.secretValue("sops-secret", "token"), "nothing written")
	assert.Empty(t, repo.leaks(st, err), "tampered")

	// A unit that decrypts nothing refuses the ciphertext instead of
	// applying it.
	f.repo.Commit(t, "v5", repo.files("v5"))
	plain := u
	plain.Decryption = nil
	st, err = f.r.Reconcile(f.ctx, plain)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "SOPS-encrypted and the unit decrypts nothing")
	assert.Equal(t, "MARKER-sops-v2", f.secretValue("sops-secret", "token"), "nothing written")
	assert.Empty(t, repo.leaks(st, err), "not decrypted")
}

// Keys come from the Secret a Flux Kustomization's decryption.secretRef
// names, when the Reconciler is allowed to read them.
func TestSOPSKeysFromSecretRef(t *testing.T) {
	f := newFixture(t)
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	enc, err := sops.Encrypt(f.ctx, "cm.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: decrypted\ndata:\n  k: v\n"), sops.FormatYAML,
		sops.Rule{KeyGroup: sops.KeyGroup{AgeRecipients: []string{id.Recipient().String()}}, EncryptedRegex: "^data$"})
	require.NoError(t, err)
	f.repo.Commit(t, "enc", map[string]string{"app/cm.yaml": string(enc)})
	u := f.unit("fromref", "app")
	u.Decryption = &reconcile.Decryption{Provider: "sops", SecretRef: "sops-age"}

	refused := f.reconciler(reconcile.WithSOPS(reconcile.SOPSOptions{}))
	_, err = refused.Reconcile(f.ctx, u)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "reads no key Secrets")

	r := f.reconciler(reconcile.WithSOPS(reconcile.SOPSOptions{FromSecretRef: true}))
	_, err = r.Reconcile(f.ctx, u)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "sops-age")

	require.NoError(t, f.env.Client.Create(f.ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "sops-age", Namespace: f.ns},
		Data:       map[string][]byte{"age.agekey": []byte(id.String())},
	}))
	st, err := r.Reconcile(f.ctx, u)
	require.NoError(t, err, describe(st))
	f.mustExist("decrypted")
	cm, err := f.configMap("decrypted")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"k": "v"}, cm.Data)
}
