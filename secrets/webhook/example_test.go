package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/converge-dev/converge/secrets"
	"github.com/converge-dev/converge/secrets/webhook"
)

func Example() {
	// A store that answers {"data": {...}} for /v1/<key> to a bearer token.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t0ken" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.EscapedPath() {
		case "/v1/team%2Fdb":
			_, _ = io.WriteString(w, `{"data": {"user": "app", "password": "hunter2"}}`)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()

	p, err := webhook.New(srv.URL+"/v1/{{ .key }}",
		webhook.WithHeader("Authorization", "Bearer t0ken"),
		webhook.WithResultPath("$.data"),
		webhook.WithNotFoundStatus(http.StatusNotFound))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()

	user, err := p.Value(ctx, "team/db", "user")
	fmt.Println(string(user), err)

	_, err = p.Map(ctx, "team/cache")
	fmt.Println(errors.Is(err, secrets.ErrNotFound))
	// Output:
	// app <nil>
	// true
}

// A POST endpoint that takes the key in a JSON body and answers one value.
func ExampleWithBody() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"result": {"value": %q}}`, "for "+string(body))
	}))
	defer srv.Close()

	p, err := webhook.New(srv.URL+"/lookup",
		webhook.WithBody(`{"name": "{{ .key }}"}`),
		webhook.WithResultPath("/result/value"))
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := p.Value(context.Background(), `say "hi"`, "")
	fmt.Println(string(v), err)
	// Output:
	// for {"name": "say \"hi\""} <nil>
}
