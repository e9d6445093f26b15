package cluster_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/converge-dev/converge/cluster"
)

// The defect of issue 19: RESTMapping, ResourceFor and TypeConverter did
// network I/O with no context. Against an API server that never answers,
// each returns when its context ends.
func TestDiscoveryCallsReturnWhenTheirContextEnds(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hang)
	c, err := cluster.New(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	gvk := schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(gvk)
	obj.SetNamespace("default")
	for name, call := range map[string]func(context.Context) error{
		"RESTMapping":   func(ctx context.Context) error { _, err := c.RESTMapping(ctx, gvk); return err },
		"ResourceFor":   func(ctx context.Context) error { _, _, err := c.ResourceFor(ctx, obj); return err },
		"TypeConverter": func(ctx context.Context) error { _, err := c.TypeConverter(ctx, gvk); return err },
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		start := time.Now()
		err := call(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
			t.Errorf("%s: %v after %s, want the context's deadline promptly", name, err, time.Since(start))
		}
	}
}

func TestNewRefusesANilConfig(t *testing.T) {
	if _, err := cluster.New(nil); err == nil {
		t.Fatal("cluster.New(nil) gave a client")
	}
}
