package object_test

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/converge-dev/converge/object"
)

func ExampleDecode() {
	manifests := `apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
`
	objs, err := object.Decode(strings.NewReader(manifests), object.DecodeOptions{Source: "apps/api.yaml"})
	if err != nil {
		fmt.Println(err)
		return
	}
	set := object.NewSet()
	for _, o := range objs {
		if err := set.Add(o, "apps/api.yaml"); err != nil {
			fmt.Println(err)
			return
		}
	}
	set.Sort()
	for id := range set.All() {
		fmt.Println(id)
	}
	// Output:
	// Namespace/shop
	// Deployment.apps/shop/api
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
