package secrets_test

import (
	"context"
	"fmt"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/secrets"
)

// A manifest keeps an argocd-vault-plugin placeholder; References reads it
// from the store at render time.
func ExampleReferences() {
	vault := secrets.ProviderFunc(func(ctx context.Context, key string) (map[string][]byte, error) {
		return map[string][]byte{"password": []byte("hunter2")}, nil
	})
	objs, _ := object.DecodeBytes([]byte(`apiVersion: v1
kind: ConfigMap
metadata: {name: app}
data:
  url: postgres://app:<path:secret/data/db#password>@db:5432/app
`), object.DefaultDecodeOptions())
	set := object.NewSet()
	_ = set.Add(objs[0], "app.yaml")

	out, err := secrets.References(secrets.ReferenceStores{AVP: vault}).Process(context.Background(), set)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out.Objects()[0].Object["data"].(map[string]any)["url"])
	// Output: postgres://app:hunter2@db:5432/app
}

// ExternalSecrets turns an ExternalSecret into the Secret it makes, for a
// cluster without the External Secrets Operator.
func ExampleExternalSecrets() {
	vault := secrets.ProviderFunc(func(ctx context.Context, key string) (map[string][]byte, error) {
		return map[string][]byte{"username": []byte("admin"), "password": []byte("hunter2")}, nil
	})
	objs, _ := object.DecodeBytes([]byte(`apiVersion: external-secrets.io/v1beta1
kind: ExternalSecret
metadata: {name: db-credentials, namespace: backend}
spec:
  secretStoreRef: {name: vault, kind: ClusterSecretStore}
  target: {name: db-credentials}
  dataFrom:
  - extract: {key: prod/backend/db}
`), object.DefaultDecodeOptions())
	set := object.NewSet()
	_ = set.Add(objs[0], "db.yaml")

	stores := secrets.StoreMap{ClusterSecretStores: map[string]secrets.Provider{"vault": vault}}
	out, err := secrets.ExternalSecrets(stores, secrets.ExternalSecretsOptions{}).Process(context.Background(), set)
	if err != nil {
		fmt.Println(err)
		return
	}
	for id, obj := range out.All() {
		fmt.Println(id, obj.Object["data"])
	}
	// Output: Secret/backend/db-credentials map[password:aHVudGVyMg== username:YWRtaW4=]
}
