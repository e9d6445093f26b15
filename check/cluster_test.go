package check

import (
	"testing"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestFieldList(t *testing.T) {
	entry := func(raw string) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{FieldsV1: &metav1.FieldsV1{Raw: []byte(raw)}}
	}
	// What kubectl edit records after changing replicas, one container's
	// image and adding an env var (the shape the API server writes).
	assert.Equal(t, `spec.replicas, spec.template.spec.containers[name=web].env[name=MODE].value, spec.template.spec.containers[name=web].image`,
		fieldList(entry(`{"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{"f:image":{},"f:env":{"k:{\"name\":\"MODE\"}":{".":{},"f:value":{}}}}}}}}}`)))
	assert.Equal(t, `metadata.finalizers[="example.com/keep"]`, fieldList(entry(`{"f:metadata":{"f:finalizers":{"v:\"example.com/keep\"":{}}}}`)))
	assert.Equal(t, "no fields recorded", fieldList(metav1.ManagedFieldsEntry{}))
	assert.Equal(t, "no fields recorded", fieldList(entry(`not json`)))
	many := `{"f:data":{` + `"f:a":{},"f:b":{},"f:c":{},"f:d":{},"f:e":{},"f:f":{},"f:g":{},"f:h":{},"f:i":{},"f:j":{}` + `}}`
	assert.Equal(t, "data.a, data.b, data.c, data.d, data.e, data.f, data.g, data.h, … (2 more)", fieldList(entry(many)))
}
