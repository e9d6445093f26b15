package main

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestQuickstartRunsToTheEndAndShowsEveryStep is `make run` as a test: its
// own control plane, the whole tour, and the lines a reader looks for.
func TestQuickstartRunsToTheEndAndShowsEveryStep(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane and takes the whole tour")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out, errs bytes.Buffer
	err := run(ctx, "../../gitops-deploy", &out, &errs)
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errs.String())
	require.NoError(t, err)
	for _, want := range []string{
		"Plan: 16 to create, 0 to update, 0 to prune, 0 unchanged.",
		": 16 created; all 16 healthy;",
		"waiting     16/16 ready",
		`was changed by "kubectl-edit" (update) at `,
		"converge check: 1 finding at or above high",
		"  1 configured, 15 unchanged; all 16 healthy;",
		"clusters/dev: 0 to add, 1 to update, 0 to remove",
		"Deployment shop/web runs ghcr.io/converge-dev/shop-web:1.5.1: 1/1 replicas updated and available",
		"gate: health passed: dev runs main@sha1:",
		"promote shop-web 1.5.1 from dev to staging",
		"Promoted-To: staging",
		"Promoted-Image: ghcr.io/converge-dev/shop-web:1.5.1",
		"rollback staging: revert ",
		"+    newTag: 1.4.2",
		fmt.Sprintf("━━ %d/%d  Hand clusters/dev to the reference operator", steps, steps),
		"Ready, Synced, Healthy at main@sha1:",
		"last pass: 0 created,",
		"Deployment shop/web runs ghcr.io/converge-dev/shop-web:1.5.2",
		"Where to go next:",
		"nothing is left running",
	} {
		assert.Contains(t, out.String(), want)
	}
	assert.Empty(t, errs.String(), "no errors along the way")
}
