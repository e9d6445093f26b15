package sealed_test

import (
	"crypto/rand"
	"fmt"
	"os"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/secrets/sealed"
)

// Seal a Secret with the controller's certificate, as kubeseal --cert
// does. The test certificate and keys are in testdata.
func ExampleSeal() {
	certPEM, _ := os.ReadFile("testdata/cert2.pem")
	pub, err := sealed.ParsePublicKey(certPEM)
	if err != nil {
		fmt.Println(err)
		return
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop"},
		StringData: map[string]string{"password": "hunter2"},
	}
	ss, err := sealed.Seal(rand.Reader, pub, secret, sealed.ScopeNamespaceWide)
	if err != nil {
		fmt.Println(err)
		return
	}
	enc, _, _ := unstructured.NestedStringMap(ss.Object, "spec", "encryptedData")
	fmt.Println(ss.GetKind(), ss.GetNamespace()+"/"+ss.GetName(), sealed.ScopeOf(ss.GetAnnotations()))
	fmt.Println(slices.Sorted(func(yield func(string) bool) {
		for k := range enc {
			yield(k)
		}
	}))
	// Output:
	// SealedSecret shop/db namespace-wide
	// [password]
}

// Unseal with the controller's key Secrets, as kubectl get secret -l
// sealedsecrets.bitnami.com/sealed-secrets-key -o yaml exports them.
func ExampleKeys_Unseal() {
	exported, _ := os.ReadFile("testdata/keys-list.yaml")
	keys, err := sealed.ParsePrivateKeys(exported)
	if err != nil {
		fmt.Println(err)
		return
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop"},
		StringData: map[string]string{"password": "hunter2"},
	}
	ss, _ := sealed.Seal(rand.Reader, keys.Public(), secret, sealed.ScopeStrict)

	out, err := keys.Unseal(ss)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out.Namespace+"/"+out.Name, string(out.Data["password"]))

	ss.SetName("db-copy") // strict: the name is bound into the ciphertext
	_, err = keys.Unseal(ss)
	fmt.Println(err)
	// Output:
	// shop/db hunter2
	// unseal SealedSecret shop/db-copy: data key "password": no key could decrypt it (sealed with another key, altered, or renamed or moved out of its scope)
}

// EncryptValue seals one value, as kubeseal --raw does.
func ExampleEncryptValue() {
	certPEM, _ := os.ReadFile("testdata/cert2.pem")
	pub, _ := sealed.ParsePublicKey(certPEM)
	v, err := sealed.EncryptValue(rand.Reader, pub, sealed.ScopeStrict, "shop", "db", []byte("hunter2"))
	fmt.Println(err, len(v) > 0)
	// Output:
	// <nil> true
}
