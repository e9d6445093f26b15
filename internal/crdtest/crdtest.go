package crdtest

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// CRDSet names CRDs to install: the files of a Go module at a pinned
// version, or, for a kind no module ships in a usable form, YAML of this
// package's own.
type CRDSet struct {
	// Name names the set in errors.
	Name string
	// Module and Version pin the Go module that ships the CRDs.
	Module, Version string
	// Files are glob patterns of YAML files in the module, relative to
	// its root. Documents that are not CRDs are skipped.
	Files []string
	// CRDs are the names of the CRDs to install from the files
	// ("httproutes.gateway.networking.k8s.io"); each must be there.
	// Empty installs every CRD of the files.
	CRDs []string
	// Embedded is a file of this package's crds folder, used instead of
	// a module.
	Embedded string
}

// The sets converge's tests use.
var (
	// GatewayAPI is the Gateway API's standard channel, v1.6.3:
	// HTTPRoute, Gateway, GatewayClass and ReferenceGrant.
	GatewayAPI = CRDSet{
		Name:   "Gateway API",
		Module: "sigs.k8s.io/gateway-api", Version: "v1.6.3",
		Files: []string{"config/crd/standard/*.yaml"},
		CRDs: []string{
			"httproutes.gateway.networking.k8s.io", "gateways.gateway.networking.k8s.io",
			"gatewayclasses.gateway.networking.k8s.io", "referencegrants.gateway.networking.k8s.io",
		},
	}
	// Istio is istio.io/api v1.32.0's VirtualService and DestinationRule
	// (networking.istio.io v1, v1beta1 and v1alpha3).
	Istio = CRDSet{
		Name:   "Istio",
		Module: "istio.io/api", Version: "v1.32.0",
		Files: []string{"kubernetes/customresourcedefinitions.gen.yaml"},
		CRDs:  []string{"virtualservices.networking.istio.io", "destinationrules.networking.istio.io"},
	}
	// SMI is the SMI TrafficSplit at split.smi-spec.io/v1alpha1, written
	// in this package from the SMI spec: no module ships it in a form a
	// current API server accepts (see the file).
	SMI = CRDSet{Name: "SMI TrafficSplit", Embedded: "split.smi-spec.io_trafficsplits.yaml"}
)

//go:embed crds/*.yaml
var embedded embed.FS

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// Install installs the CRDs of sets into the cluster cfg reaches and
// waits until they are Established, failing t if it cannot.
func Install(t testing.TB, cfg *rest.Config, sets ...CRDSet) {
	t.Helper()
	crds, err := Load(sets...)
	if err != nil {
		t.Fatalf("crdtest: %v", err)
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("crdtest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := install(ctx, client.Resource(crdGVR), crds); err != nil {
		t.Fatalf("crdtest: %v", err)
	}
}

func install(ctx context.Context, crds dynamic.ResourceInterface, objs []*unstructured.Unstructured) error {
	for _, obj := range objs {
		if _, err := crds.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "crdtest", Force: true}); err != nil {
			return fmt.Errorf("install CRD %s: %w", obj.GetName(), err)
		}
	}
	for _, obj := range objs {
		if err := established(ctx, crds, obj.GetName()); err != nil {
			return err
		}
	}
	return nil
}

func established(ctx context.Context, crds dynamic.ResourceInterface, name string) error {
	for {
		crd, err := crds.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("CRD %s: %w", name, err)
		}
		conditions, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, c := range conditions {
			m, _ := c.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				return nil
			}
			if m["type"] == "NamesAccepted" && m["status"] == "False" {
				return fmt.Errorf("CRD %s: names not accepted: %v", name, m["message"])
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("CRD %s is not Established: %w", name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Load reads the CRDs of sets, without a cluster.
func Load(sets ...CRDSet) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, s := range sets {
		crds, err := s.load()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.label(), err)
		}
		out = append(out, crds...)
	}
	return out, nil
}

func (s CRDSet) label() string {
	switch {
	case s.Module != "" && s.Name != "":
		return fmt.Sprintf("%s (%s@%s)", s.Name, s.Module, s.Version)
	case s.Module != "":
		return s.Module + "@" + s.Version
	}
	return s.Name
}

func (s CRDSet) load() ([]*unstructured.Unstructured, error) {
	var all []*unstructured.Unstructured
	switch {
	case s.Embedded != "":
		data, err := embedded.ReadFile("crds/" + s.Embedded)
		if err != nil {
			return nil, err
		}
		if all, err = decode(data, s.Embedded); err != nil {
			return nil, err
		}
	case s.Module != "" && s.Version != "":
		dir, err := ModuleDir(s.Module, s.Version)
		if err != nil {
			return nil, err
		}
		for _, pattern := range s.Files {
			files, err := filepath.Glob(filepath.Join(dir, pattern))
			if err != nil {
				return nil, err
			}
			if len(files) == 0 {
				return nil, fmt.Errorf("no file matches %s", pattern)
			}
			for _, f := range files {
				data, err := os.ReadFile(f)
				if err != nil {
					return nil, err
				}
				objs, err := decode(data, f)
				if err != nil {
					return nil, err
				}
				all = append(all, objs...)
			}
		}
	default:
		return nil, errors.New("neither a module at a version nor an embedded file")
	}
	if len(s.CRDs) == 0 {
		return all, nil
	}
	var out []*unstructured.Unstructured
	for _, name := range s.CRDs {
		i := slices.IndexFunc(all, func(o *unstructured.Unstructured) bool { return o.GetName() == name })
		if i < 0 {
			return nil, fmt.Errorf("no CRD %s in %v", name, s.Files)
		}
		out = append(out, all[i])
	}
	return out, nil
}

// decode returns the CustomResourceDefinitions of a YAML stream.
func decode(data []byte, source string) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		u := &unstructured.Unstructured{Object: obj}
		if obj == nil || u.GetAPIVersion() != "apiextensions.k8s.io/v1" || u.GetKind() != "CustomResourceDefinition" {
			continue
		}
		out = append(out, u)
	}
}

var moduleDirs sync.Map // "module@version" → *moduleDir

type moduleDir struct {
	once sync.Once
	dir  string
	err  error
}

// ModuleDir returns the folder of a Go module at a version, downloading
// it through the module proxy when the module cache does not have it.
// It runs outside any module, so the caller's go.mod is neither read
// nor changed.
func ModuleDir(module, version string) (string, error) {
	v, _ := moduleDirs.LoadOrStore(module+"@"+version, &moduleDir{})
	md := v.(*moduleDir)
	md.once.Do(func() { md.dir, md.err = download(module, version) })
	return md.dir, md.err
}

func download(module, version string) (string, error) {
	tmp, err := os.MkdirTemp("", "crdtest-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("go", "mod", "download", "-json", module+"@"+version)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=", "GO111MODULE=on")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil && runErr == nil {
		return "", fmt.Errorf("go mod download %s@%s: %w", module, version, err)
	}
	switch {
	case info.Error != "":
		return "", fmt.Errorf("go mod download %s@%s: %s", module, version, info.Error)
	case runErr != nil:
		return "", fmt.Errorf("go mod download %s@%s: %w: %s", module, version, runErr, bytes.TrimSpace(stderr.Bytes()))
	case info.Dir == "":
		return "", fmt.Errorf("go mod download %s@%s: no Dir", module, version)
	}
	return info.Dir, nil
}
