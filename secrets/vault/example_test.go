package vault_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/converge-dev/converge/secrets"
	"github.com/converge-dev/converge/secrets/vault"
)

// standIn answers as Vault's KV version 2 engine does for one secret,
// "app/db", and for Kubernetes logins. The package's own tests run
// against a real Vault.
func standIn() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/v1/auth/kubernetes/login":
			fmt.Fprint(w, `{"auth":{"client_token":"hvs.example","lease_duration":3600,"renewable":true}}`)
		case r.Header.Get("X-Vault-Token") != "hvs.example":
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"errors":["permission denied"]}`)
		case r.URL.Path == "/v1/secret/data/app/db":
			fmt.Fprint(w, `{"data":{"data":{"password":"hunter2","port":5432},"metadata":{"version":1}}}`)
		case r.URL.Path == "/v1/secret/metadata/app/" && r.URL.Query().Get("list") == "true":
			fmt.Fprint(w, `{"data":{"keys":["db","cache/"]}}`)
		case r.URL.Path == "/v1/secret/metadata/app/cache/":
			fmt.Fprint(w, `{"data":{"keys":["redis"]}}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"errors":[]}`)
		}
	}))
}

func ExampleProvider_Value() {
	srv := standIn()
	defer srv.Close()
	ctx := context.Background()

	p, err := vault.New(srv.URL, vault.TokenAuth("hvs.example"))
	if err != nil {
		panic(err)
	}
	password, err := p.Value(ctx, "app/db", "password")
	fmt.Println(string(password), err)
	port, err := p.Value(ctx, "secret/data/app/db", "port") // the argocd-vault-plugin form
	fmt.Println(string(port), err)

	_, err = p.Map(ctx, "app/missing")
	fmt.Println(errors.Is(err, secrets.ErrNotFound))
	// Output:
	// hunter2 <nil>
	// 5432 <nil>
	// true
}

func ExampleProvider_List() {
	srv := standIn()
	defer srv.Close()

	p, _ := vault.New(srv.URL, vault.TokenAuth("hvs.example"))
	keys, err := p.List(context.Background(), "app")
	fmt.Println(keys, err)
	// Output:
	// [app/cache/redis app/db] <nil>
}

func ExampleKubernetesAuth() {
	srv := standIn()
	defer srv.Close()

	// In a Pod: vault.ServiceAccountToken("") reads the projected token.
	jwt := func(context.Context) (string, error) { return "eyJhbGciOi...", nil }
	p, _ := vault.New(srv.URL, vault.KubernetesAuth("converge", jwt, "kubernetes"))
	password, err := p.Value(context.Background(), "app/db", "password")
	fmt.Println(string(password), err)
	// Output:
	// hunter2 <nil>
}

func ExampleAuthFunc() {
	srv := standIn()
	defer srv.Close()

	// Any login method: here the Kubernetes one by hand.
	auth := vault.AuthFunc(func(ctx context.Context, login vault.Login) (string, error) {
		lease, err := login(ctx, "kubernetes", map[string]string{"role": "converge", "jwt": "eyJhbGciOi..."})
		return lease.Token, err
	})
	p, _ := vault.New(srv.URL, auth)
	_, err := p.Map(context.Background(), "app/db")
	fmt.Println(err)
	// Output:
	// <nil>
}

func ExampleError() {
	srv := standIn()
	defer srv.Close()

	p, _ := vault.New(srv.URL, vault.TokenAuth("hvs.wrong"))
	_, err := p.Map(context.Background(), "app/db")
	fmt.Println(errors.Is(err, vault.ErrForbidden))
	fmt.Println(strings.Replace(err.Error(), srv.URL, "https://vault:8200", 1))
	// Output:
	// true
	// vault https://vault:8200: read "app/db": 403 Forbidden: permission denied
}
