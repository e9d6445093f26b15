package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/internal/peers"
	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/secrets/sealed"
)

// sealedComparison unseals 1,000 SealedSecrets in process and with
// kubeseal --recovery-unseal once per document (secrets-unseal-1000).
var sealedComparison = comparison{name: "secrets-unseal", run: runSealed}

const (
	sealedDocs      = 1000
	sealedValuesPer = 3
)

func runSealed(ctx context.Context, h *harness) ([]result, error) {
	cli, err := peers.CLI("kubeseal")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "converge-bench-sealed-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	// A sealing key as the controller makes them (RSA-4096).
	priv, err := rsa.GenerateKey(rand.Reader, 4096)
	if err != nil {
		return nil, err
	}
	keyFile := filepath.Join(dir, "key.pem")
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(priv)})
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return nil, err
	}
	keys, err := sealed.ParsePrivateKeys(keyPEM)
	if err != nil {
		return nil, err
	}

	docs := make([]*unstructured.Unstructured, sealedDocs)
	yamls := make([][]byte, sealedDocs)
	for i := range docs {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("secret-%04d", i), Namespace: fmt.Sprintf("team-%d", i%10), Labels: map[string]string{"app": "bench"}},
			Type:       corev1.SecretTypeOpaque,
			StringData: map[string]string{},
		}
		for j := range sealedValuesPer {
			s.StringData[fmt.Sprintf("key-%d", j)] = fmt.Sprintf("value-%d-%d", i, j)
		}
		if docs[i], err = sealed.Seal(rand.Reader, keys.Public(), s, sealed.ScopeStrict); err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		if err := object.Encode(&buf, docs[i]); err != nil {
			return nil, err
		}
		yamls[i] = buf.Bytes()
	}

	// converge unseals the set as a pass does: sealed.Processor, every
	// core.
	set := object.NewSet()
	for _, d := range docs {
		if err := set.Add(d, d.GetName()+".yaml"); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	out, err := sealed.Processor(keys).Process(ctx, set)
	if err != nil {
		return nil, err
	}
	convergeTime := time.Since(start)
	ours := make([]*corev1.Secret, sealedDocs)
	for i, d := range docs {
		obj, ok := out.Get(object.ID{Kind: "Secret", Namespace: d.GetNamespace(), Name: d.GetName()})
		if !ok {
			return nil, fmt.Errorf("the processor made no Secret for %s", d.GetName())
		}
		if ours[i], err = sealed.FromSecretObject(obj); err != nil {
			return nil, err
		}
	}

	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, nil, 0o600); err != nil {
		return nil, err
	}
	theirs := make([][]byte, sealedDocs)
	start = time.Now()
	for i, y := range yamls {
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, cli, "--recovery-unseal", "--recovery-private-key", keyFile, "--format", "yaml")
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kc)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(y), &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("kubeseal --recovery-unseal %s: %w: %s", docs[i].GetName(), err, strings.TrimSpace(stderr.String()))
		}
		theirs[i] = stdout.Bytes()
	}
	peerTime := time.Since(start)

	// Outputs agree: the same data, type, namespace and name.
	for i := range ours {
		objs, err := object.DecodeBytes(theirs[i], object.DefaultDecodeOptions())
		if err != nil || len(objs) != 1 {
			return nil, fmt.Errorf("kubeseal output for %s: %d objects, %v", docs[i].GetName(), len(objs), err)
		}
		t, err := sealed.FromSecretObject(objs[0])
		if err != nil {
			return nil, err
		}
		o := ours[i]
		if t.Namespace != o.Namespace || t.Name != o.Name || t.Type != o.Type || len(t.Data) != len(o.Data) {
			return nil, fmt.Errorf("%s/%s: kubeseal and converge disagree on metadata or keys", o.Namespace, o.Name)
		}
		for k, v := range o.Data {
			if !bytes.Equal(t.Data[k], v) {
				return nil, fmt.Errorf("%s/%s: kubeseal and converge disagree on data key %q", o.Namespace, o.Name, k)
			}
		}
	}
	_ = h
	return []result{{
		Name:     "secrets-unseal-1000",
		Converge: convergeTime,
		PeerName: "kubeseal-cli",
		Peer:     peerTime,
		Requests: 0,
		Writes:   -1,
		Extra:    []string{fmt.Sprintf("values=%d", sealedDocs*sealedValuesPer), "key=rsa-4096", fmt.Sprintf("cores=%d", runtime.GOMAXPROCS(0))},
	}}, nil
}
