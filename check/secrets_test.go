package check

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPlaintextSecrets(t *testing.T) {
	cases := map[string]struct {
		reason string
		files  map[string]string
		want   []string
	}{
		"Plain": {
			reason: "a Secret with stringData in Git is a plaintext secret",
			files: map[string]string{"db.yaml": `apiVersion: v1
kind: Secret
metadata: {name: db, namespace: shop}
stringData:
  password: hunter2hunter2
`},
			want: []string{"secret-plaintext db.yaml:5:3"},
		},
		"Data": {
			reason: "base64 is no encryption",
			files:  map[string]string{"a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: db}\ndata:\n  token: aHVudGVyMg==\n"},
			want:   []string{"secret-plaintext a.yaml:9:3"},
		},
		"SOPS": {
			reason: "a SOPS-encrypted Secret carries sops metadata",
			files: map[string]string{"db.enc.yaml": `apiVersion: v1
kind: Secret
metadata: {name: db}
stringData:
  password: ENC[AES256_GCM,data:abcd,iv:efgh,tag:ijkl,type:str]
sops:
  age:
    - recipient: age1xyz
      enc: whatever
  lastmodified: "2024-01-01T00:00:00Z"
  mac: ENC[AES256_GCM,data:abcd,iv:efgh,tag:ijkl,type:str]
  version: 3.9.0
`},
			want: []string{},
		},
		"Sealed": {
			reason: "a SealedSecret's encryptedData is ciphertext",
			files:  map[string]string{"s.yaml": "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: db}\nspec:\n  encryptedData:\n    password: AgBy3i4OJSWK+PiTySYZZA==\n"},
			want:   []string{},
		},
		"External": {
			reason: "an ExternalSecret holds references",
			files:  map[string]string{"e.yaml": "apiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\nmetadata: {name: db}\nspec:\n  data:\n    - secretKey: password\n      remoteRef: {key: db/password}\n"},
			want:   []string{},
		},
		"Empty": {
			reason: "a Secret with no data holds nothing",
			files:  map[string]string{"s.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ntype: kubernetes.io/service-account-token\n"},
			want:   []string{},
		},
		"Generator": {
			reason: "secretGenerator literals are plaintext in the kustomization",
			files:  map[string]string{"kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nsecretGenerator:\n  - name: db\n    literals:\n      - password=hunter2\n"},
			want:   []string{"secret-plaintext kustomization.yaml:6:9"},
		},
		"Disabled": {
			reason: "the disable annotation turns the rule off for its object",
			files:  map[string]string{"s.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: demo\n  annotations:\n    check.converge.dev/disable: image-latest, secret-plaintext\nstringData:\n  password: demo-only\n"},
			want:   []string{},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, findings(t, tc.files, PlaintextSecrets()), tc.reason)
		})
	}
}

func TestCredentials(t *testing.T) {
	cases := map[string]struct {
		reason string
		files  map[string]string
		want   []string
	}{
		"ConfigMapKey": {
			reason: "a ConfigMap key named for a password holds one",
			files:  map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata:\n  LOG_LEVEL: info\n  DB_PASSWORD: s3cr3t\n  SECRET_NAME_REF: ${SECRET}\n"},
			want:   []string{"credential-in-config cm.yaml:6:16"},
		},
		"ConfigMapReferences": {
			reason: "names that hold references, not credentials, pass",
			files:  map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata:\n  existingSecret: db\n  secretName: db\n  tokenFile: /var/run/token\n  password: \"\"\n"},
			want:   []string{},
		},
		"ConfigMapEmbedded": {
			reason: "a properties file inside a ConfigMap is read line by line",
			files:  map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata:\n  app.properties: |\n    url=jdbc:pg://db\n    db.password=s3cr3t\n"},
			want:   []string{"credential-in-config cm.yaml:7"},
		},
		"AWSKeyAnywhere": {
			reason: "an AWS key ID is a credential whatever its key",
			files:  map[string]string{"deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec:\n  template:\n    metadata:\n      annotations:\n        note: AKIAIOSFODNN7EXAMPLE\n"},
			want:   []string{"credential-in-config deploy.yaml:8:15"},
		},
		"EnvValue": {
			reason: "a container env var named for a token with a literal value",
			files:  map[string]string{"deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: app:1.0\n          env:\n            - name: API_TOKEN\n              value: abcdef123456\n            - name: DB_PASSWORD\n              valueFrom: {secretKeyRef: {name: db, key: password}}\n"},
			want:   []string{"credential-in-config deploy.yaml:12:22"},
		},
		"HelmValues": {
			reason: "Helm values are walked at every depth",
			files:  map[string]string{"charts/app/values.yaml": "postgresql:\n  auth:\n    existingSecret: \"\"\n    password: pgpass\n    username: app\nreplicas: 2\n"},
			want:   []string{"credential-in-config charts/app/values.yaml:4:15"},
		},
		"PrivateKeyInValues": {
			reason: "a PEM private key in a values file",
			files:  map[string]string{"values-prod.yaml": "tls:\n  cert: |\n    -----BEGIN CERTIFICATE-----\n    MIIB\n  pem: |\n    -----BEGIN RSA PRIVATE KEY-----\n    MIIE\n"},
			want:   []string{"credential-in-config values-prod.yaml:6"},
		},
		"Dotenv": {
			reason: ".env files: names and looks",
			files:  map[string]string{"app/.env": "# comment\nexport DB_PASSWORD=\"s3cr3t\"\nDEBUG=true\nTOKEN=${FROM_CI}\nJWT=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U\n"},
			want:   []string{"credential-in-config app/.env:2:20", "credential-in-config app/.env:5:5"},
		},
		"DotenvSOPS": {
			reason: "a SOPS-encrypted .env carries sops_ keys",
			files:  map[string]string{"prod.env": "DB_PASSWORD=ENC[AES256_GCM,data:xx,iv:yy,tag:zz,type:str]\nsops_version=3.9.0\nsops_mac=ENC[AES256_GCM,data:xx,iv:yy,tag:zz,type:str]\nsops_lastmodified=2024-01-01T00:00:00Z\nsops_age__list_0__map_recipient=age1xyz\nsops_age__list_0__map_enc=x\n"},
			want:   []string{},
		},
		"KeyFile": {
			reason: "a committed key file",
			files:  map[string]string{"certs/tls.key": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"},
			want:   []string{"credential-in-config certs/tls.key:1"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			assert.ElementsMatch(t, tc.want, findings(t, tc.files, Credentials()), tc.reason)
		})
	}
}

// TestSecretValuesNeverPrinted plants secret values in every place the
// rules look and checks that no output holds one.
func TestSecretValuesNeverPrinted(t *testing.T) {
	values := []string{"hunter2-plain-value", "cm-pass-value-42", "AKIAIOSFODNN7EXAMPLE", "env-dotenv-value-9", "values-yaml-pass-7", "generator-literal-5"}
	files := map[string]string{
		"secret.yaml":        "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData:\n  password: hunter2-plain-value\n",
		"cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata:\n  DB_PASSWORD: cm-pass-value-42\n  AKIAIOSFODNN7EXAMPLE: AKIAIOSFODNN7EXAMPLE\n",
		".env":               "API_TOKEN=env-dotenv-value-9\n",
		"values.yaml":        "auth:\n  password: values-yaml-pass-7\n",
		"kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nsecretGenerator:\n  - name: db\n    literals: [token=generator-literal-5]\n",
		"broken.yaml":        "password: hunter2-plain-value\n  bad: [\n",
	}
	rep, err := Run(context.Background(), NewTarget(mapFS(files), "v1", DefaultLimits()), RepositoryRules(DefaultRepositoryOptions()), DefaultOptions())
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(rep.Findings()), 6, "every planted value is found")
	var text, js, sarif bytes.Buffer
	require.NoError(t, rep.WriteText(&text))
	require.NoError(t, rep.WriteJSON(&js))
	require.NoError(t, rep.WriteSARIF(&sarif, DefaultSARIFOptions()))
	for _, out := range []string{text.String(), js.String(), sarif.String()} {
		for _, v := range values {
			assert.NotContains(t, out, v)
		}
	}
}
