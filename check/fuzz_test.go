package check

import (
	"bytes"
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FuzzRepositoryRules runs every repository rule over arbitrary content
// as a YAML manifest, a Helm values file, a .env file, a CI workflow and
// a text file, beside planted secrets. No input may panic, and no output
// (text, JSON, SARIF) may hold a planted value.
func FuzzRepositoryRules(f *testing.F) {
	for _, seed := range []string{
		"",
		"apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringData: {password: y}\n",
		"a: &a [*a, *a]\nb: *a\n",
		"apiVersion: apps/v1\nkind: Deployment\nspec: {template: {spec: {containers: [{image: nginx}]}}}\n",
		"apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec: {syncPolicy: {automated: {}}}\n",
		"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nspec: {interval: 99999h}\n",
		"steps:\n  - run: kubectl apply -f .\n",
		"DB_PASSWORD=x\nexport TOKEN='y'\n",
		"data:\n  k: |\n    -----BEGIN PRIVATE KEY-----\n",
		"---\n---\n- [\n",
		"kind: ConfigMap\ndata: {password: {nested: x}}\n",
		"\x00\xff\xfe",
	} {
		f.Add([]byte(seed))
	}
	planted := [][]byte{[]byte("fz-planted-password-31337"), []byte("AKIAZZZZZZZZZZZZZZZZ"), []byte("fz-dotenv-value-2718")}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range planted {
			if bytes.Contains(data, p) {
				t.Skip("the input holds a planted value itself")
			}
		}
		s := string(data)
		files := map[string]string{
			"fuzz.yaml":                        s,
			"chart/values.yaml":                s,
			"app/.env":                         s,
			".github/workflows/ci.yml":         s,
			"notes.txt":                        s,
			"overlays/prod/kustomization.yaml": s,
			"secret.yaml":                      "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData:\n  password: fz-planted-password-31337\n",
			"cm.yaml":                          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  AWS_ACCESS_KEY_ID: AKIAZZZZZZZZZZZZZZZZ\n",
			"prod.env":                         "API_TOKEN=fz-dotenv-value-2718\n",
		}
		rep, err := Run(context.Background(), NewTarget(mapFS(files), "fuzz", Limits{MaxFiles: 100, MaxFileSize: 1 << 20}), RepositoryRules(DefaultRepositoryOptions()), DefaultOptions())
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if len(rep.Findings()) < 3 {
			t.Fatalf("the planted secrets were not all found: %d findings", len(rep.Findings()))
		}
		var out bytes.Buffer
		if err := rep.WriteText(&out); err != nil {
			t.Fatal(err)
		}
		if err := rep.WriteJSON(&out); err != nil {
			t.Fatal(err)
		}
		if err := rep.WriteSARIF(&out, DefaultSARIFOptions()); err != nil {
			t.Fatal(err)
		}
		for _, p := range planted {
			if bytes.Contains(out.Bytes(), p) {
				t.Fatalf("the output holds the planted value %q", p)
			}
		}
	})
}

// FuzzFieldList reads arbitrary managed-fields documents, which come
// from the API server (a trust boundary for a report): no input may
// panic, and the list stays bounded.
func FuzzFieldList(f *testing.F) {
	for _, seed := range []string{
		`{"f:spec":{"f:replicas":{}}}`,
		`{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{}}}}}}}`,
		`{"f:metadata":{"f:finalizers":{"v:\"x\"":{}}}}`,
		`{"i:0":{}}`, `[]`, `null`, `{"k:not json":{}}`, strings.Repeat(`{"f:a":`, 200) + `{}` + strings.Repeat(`}`, 200),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var paths []string
		walkFields(raw, "", 0, &paths)
		if len(paths) > 100 {
			t.Fatalf("%d paths read, want at most 100", len(paths))
		}
		if got := fieldList(metav1.ManagedFieldsEntry{FieldsV1: &metav1.FieldsV1{Raw: raw}}); got == "" {
			t.Fatal("an empty field list")
		}
	})
}
