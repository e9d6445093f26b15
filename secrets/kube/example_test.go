package kube_test

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/converge-dev/converge/secrets/kube"
)

// The fake clientset stands in for a real cluster's here only; the tests
// read from a real API server.
func Example() {
	client := fake.NewClientset(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shared", Name: "db"},
			Data: map[string][]byte{"user": []byte("app"), "password": []byte("hunter2")}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "root"},
			Data: map[string][]byte{"token": []byte("x")}},
	)
	p := kube.New(client, kube.WithNamespace("shared"), kube.WithAllowedNamespaces("shared"))
	ctx := context.Background()

	user, err := p.Value(ctx, "db", "user")
	fmt.Println(string(user), err)

	keys, _ := p.List(ctx, "")
	fmt.Println(keys)

	_, err = p.Map(ctx, "kube-system/root")
	fmt.Println(errors.Is(err, kube.ErrNamespaceRefused), err)
	// Output:
	// app <nil>
	// [db]
	// true kube: secret kube-system/root: namespace "kube-system" is not among the 1 allowed: namespace not allowed
}
