package object_test

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/converge-dev/converge/object"
)

// Decode a stream, then keep its objects in a Set in apply order, as the
// package overview does.
func ExampleDecode() {
	r := strings.NewReader(`apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
`)
	objs, err := object.Decode(r, object.DecodeOptions{Source: "apps/api/deploy.yaml"})
	if err != nil {
		fmt.Println(err)
		return
	}
	set := object.NewSet()
	for _, o := range objs {
		if err := set.Add(o, "apps/api/deploy.yaml"); err != nil {
			fmt.Println(err)
			return
		}
	}
	set.Sort() // CRDs, Namespaces and cluster RBAC first, then a fixed kind order
	for id := range set.All() {
		fmt.Println(id)
	}
	// Output:
	// Namespace/shop
	// Deployment.apps/shop/api
}

// An error names the source, the document and the line, never a value.
func ExampleDecode_duplicateImage() {
	r := strings.NewReader(`apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  template:
    spec:
      containers:
      - name: api
        image: ghcr.io/myorg/api:1.4.0
        image: ghcr.io/myorg/api:1.4.1
`)
	_, err := object.Decode(r, object.DecodeOptions{Source: "apps/api/deploy.yaml"})
	fmt.Println(err)
	// Output:
	// apps/api/deploy.yaml: document 2: line 14: duplicate key "image" (first at line 13)
}

// A second object with an ID already in the set is refused, naming where
// both came from.
func ExampleSet_Add() {
	set := object.NewSet()
	for _, file := range []string{"apps/web/deploy.yaml", "apps/api/deploy.yaml"} {
		objs, err := object.DecodeBytes([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: shop}\n"),
			object.DecodeOptions{Source: file})
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, o := range objs {
			if err := set.Add(o, file); err != nil {
				fmt.Println(err)
				fmt.Println(errors.Is(err, object.ErrDuplicate))
			}
		}
	}
	// Output:
	// Deployment.apps/shop/api: defined twice, in apps/web/deploy.yaml and in apps/api/deploy.yaml
	// true
}

func ExampleDecode_duplicateKey() {
	_, err := object.Decode(strings.NewReader("apiVersion: v1\nkind: Secret\nstringData:\n  token: a\n  token: b\n"),
		object.DecodeOptions{Source: "secret.yaml"})
	fmt.Println(err)
	fmt.Println(errors.Is(err, object.ErrDuplicateKey))
	// Output:
	// secret.yaml: document 1: line 5: duplicate key "token" (first at line 4)
	// true
}

func ExampleEncode() {
	objs, _ := object.Decode(strings.NewReader(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings"},"data":{"b":"2","a":"1"}}`), object.DecodeOptions{})
	_ = object.Encode(os.Stdout, objs...)
	// Output:
	// apiVersion: v1
	// data:
	//   a: "1"
	//   b: "2"
	// kind: ConfigMap
	// metadata:
	//   name: settings
}

func ExampleCheckAliases() {
	// Both alias markers, and no alias: nothing to count.
	fine := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations: {note: 'Tom & Jerry *no alias here*'}\n"
	fmt.Println(object.CheckAliases([]byte(fine), object.DecodeOptions{Source: "fine.yaml"}))

	// Each *l repeats the 4 values of the list (the list and its items).
	bomb := "l: &l [a, b, c]\nuses: [*l, *l, *l]\n"
	err := object.CheckAliases([]byte(bomb), object.DecodeOptions{Source: "bomb.yaml", MaxAliasNodes: 10})
	fmt.Println(err)
	fmt.Println(errors.Is(err, object.ErrAliasExpansion))
	// Output:
	// <nil>
	// bomb.yaml: document 1: line 2: YAML aliases expand beyond the limit of 10 values
	// true
}
