package flux

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSelfExpr(t *testing.T) {
	tests := map[string]string{
		`status.phase == 'Ready'`: `self.status.phase == "Ready"`,
		`status.conditions.filter(e, e.type == 'Ready').all(e, e.observedGeneration == metadata.generation && e.status == 'True')`: `self.status.conditions.filter(e, e.type == "Ready").all(e, e.observedGeneration == self.metadata.generation && e.status == "True")`,
		// A macro variable named like a field is the macro's.
		`status.conditions.exists(status, status.type == 'Ready')`:   `self.status.conditions.exists(status, status.type == "Ready")`,
		`has(status.ready) && spec.replicas == status.readyReplicas`: `has(self.status.ready) && self.spec.replicas == self.status.readyReplicas`,
		`[status.a, {'k': spec.b}]`:                                  `[self.status.a, {"k": self.spec.b}]`,
		`status.items.map(i, i.name).size() > 0`:                     `self.status.items.map(i, i.name).size() > 0`,
		`other.status == 1`:                                          `other.status == 1`,
	}
	for in, want := range tests {
		got, err := selfExpr(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, got, in)
		}
	}
	for _, bad := range []string{"status.", "(", "a ? b", string(make([]byte, maxExprLength+1))} {
		_, err := selfExpr(bad)
		assert.Error(t, err, bad)
	}
}
