package object

import (
	"reflect"
	"testing"
)

func TestChangedPaths(t *testing.T) {
	a := map[string]any{"spec": map[string]any{"replicas": int64(1), "c": []any{map[string]any{"image": "a"}}, "gone": "x"}}
	b := map[string]any{"spec": map[string]any{"replicas": int64(2), "c": []any{map[string]any{"image": "b"}}, "new": "y"}}
	want := []string{"spec.c[0].image", "spec.gone", "spec.replicas", "spec.new"}
	if got := ChangedPaths(a, b, 0); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got := ChangedPaths(a, b, 2); len(got) != 2 {
		t.Fatalf("the limit: %v", got)
	}
	if got := ChangedPaths(a, a, 0); len(got) != 0 {
		t.Fatalf("equal values differ: %v", got)
	}
}
