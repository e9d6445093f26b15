package sops_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"testing/fstest"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/kustomize"
	"github.com/converge-dev/converge/secrets/sops"
)

// A test-only age key (testdata/keys/age1.txt), never used for real data.
const (
	exampleKey       = "AGE-SECRET-KEY-1M844FZEVTNRSEVVM796U3S6NFUYVWMHE044CPSZ0M9FDT8XK5F5Q7W7CKC\n"
	exampleRecipient = "age1ec9gwg3h88gjq57ma59jhj8kdx7fmy2hezkp9symtup59mh4tpaqw55wpu"
)

// Decrypt a Secret that `sops -e --encrypted-regex '^(data|stringData)$'`
// wrote, as Flux users keep them in Git.
func ExampleDecryptor_Decrypt() {
	data, err := os.ReadFile("testdata/enc/flux-secret.enc.yaml")
	if err != nil {
		panic(err)
	}
	d, err := sops.NewDecryptor(sops.WithAgeKeys([]byte(exampleKey)))
	if err != nil {
		panic(err)
	}
	plain, err := d.Decrypt(context.Background(), "flux-secret.enc.yaml", data, sops.FormatForPath("flux-secret.enc.yaml"))
	if err != nil {
		panic(err)
	}
	fmt.Print(string(plain))
	// Output:
	// apiVersion: v1
	// kind: Secret
	// metadata:
	//     name: db
	//     namespace: shop
	// type: Opaque
	// stringData:
	//     password: hunter2-MARKER-flux
	//     user: admin
}

// Encrypt with the rule a .sops.yaml picks, and decrypt the result.
func ExampleEncrypt() {
	cfg, err := sops.ParseConfig([]byte("creation_rules:\n  - path_regex: \\.env$\n    age: " + exampleRecipient + "\n"))
	if err != nil {
		panic(err)
	}
	rule, err := cfg.Rule("apps/shop/db.env")
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	enc, err := sops.Encrypt(ctx, "db.env", []byte("PASSWORD=s3cret\n"), sops.FormatDotenv, rule)
	if err != nil {
		panic(err)
	}
	fmt.Println(sops.IsEncrypted(enc, sops.FormatDotenv))

	d, _ := sops.NewDecryptor(sops.WithAgeKeys([]byte(exampleKey)))
	plain, err := d.Decrypt(ctx, "db.env", enc, sops.FormatDotenv)
	if err != nil {
		panic(err)
	}
	fmt.Print(string(plain))
	// Output:
	// true
	// PASSWORD=s3cret
}

// Read SOPS files through a file system that decrypts them, as
// Kustomize's secretGenerator does.
func ExampleDecryptor_FS() {
	enc, _ := os.ReadFile("testdata/enc/db.enc.env")
	fsys := fstest.MapFS{"db.enc.env": {Data: enc}, "README": {Data: []byte("hello\n")}}
	d, _ := sops.NewDecryptor(sops.WithAgeKeys([]byte(exampleKey)))
	view := d.FS(fsys)
	b, err := fs.ReadFile(view, "db.enc.env")
	if err != nil {
		panic(err)
	}
	fmt.Print(string(b))
	b, _ = fs.ReadFile(view, "README")
	fmt.Print(string(b))
	// Output:
	// DB_PASSWORD=hunter2-MARKER-env
	// DB_USER=admin
	// hello
}

// Render a Kustomize overlay whose Secret is a SOPS file: d.FS decrypts
// it as kustomize reads it, and the Processor refuses any ciphertext left.
func ExampleDecryptor_Processor() {
	enc, _ := os.ReadFile("testdata/enc/flux-secret.enc.yaml")
	fsys := fstest.MapFS{
		"app/kustomization.yaml": {Data: []byte("resources:\n- secret.enc.yaml\n")},
		"app/secret.enc.yaml":    {Data: enc},
	}
	d, _ := sops.NewDecryptor(sops.WithAgeKeys([]byte(exampleKey)))
	r := render.Then(kustomize.New(), d.Processor())
	set, err := r.Render(context.Background(), d.FS(fsys), "app", render.DefaultOptions())
	if err != nil {
		panic(err)
	}
	for id, obj := range set.All() {
		pw, _, _ := unstructured.NestedString(obj.Object, "stringData", "password")
		fmt.Println(id, pw)
	}
	// Output:
	// Secret/shop/db hunter2-MARKER-flux
}
