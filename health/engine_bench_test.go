package health_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/health/healthtest"
)

const benchN = 10_000

// BenchmarkEngineCheck times Engine.Check on 10,000 mixed objects per op.
func BenchmarkEngineCheck(b *testing.B) {
	objs := healthtest.MixedObjects(benchN)
	engine, err := health.New()
	if err != nil {
		b.Fatal(err)
	}
	healthy := 0
	b.ReportAllocs()
	for b.Loop() {
		healthy = 0
		for _, o := range objs {
			if engine.Check(o).Status == health.Healthy {
				healthy++
			}
		}
	}
	b.ReportMetric(float64(healthy), "healthy")
}

// BenchmarkKstatusCompute times kstatus's Compute on the same objects, the
// reference BenchmarkEngineCheck must beat.
func BenchmarkKstatusCompute(b *testing.B) {
	objs := healthtest.MixedObjects(benchN)
	current := 0
	b.ReportAllocs()
	for b.Loop() {
		current = 0
		for _, o := range objs {
			r, err := kstatus.Compute(o)
			if err != nil {
				b.Fatal(err)
			}
			if r.Status == kstatus.CurrentStatus {
				current++
			}
		}
	}
	b.ReportMetric(float64(current), "current")
}

// BenchmarkBuiltin times Builtin, converge's rules and the kstatus port
// without CEL rules, on the same objects but the Flux ones.
func BenchmarkBuiltin(b *testing.B) {
	var objs []*unstructured.Unstructured
	for _, o := range healthtest.MixedObjects(benchN) {
		if o.GetKind() != "Kustomization" {
			objs = append(objs, o)
		}
	}
	healthy := 0
	b.ReportAllocs()
	for b.Loop() {
		healthy = 0
		for _, o := range objs {
			if health.Builtin(o).Status == health.Healthy {
				healthy++
			}
		}
	}
	b.ReportMetric(float64(healthy), "healthy")
}
