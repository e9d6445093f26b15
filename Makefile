# converge: make run (the quickstart) and make test are the two commands a
# fresh machine needs; both set up what they use.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

# Go modules tested by make test: the SDK and every module beside it
# (rollout/analysis/internal/oracle runs Argo Rollouts' own code against
# converge's analysis; its own module keeps k8s.io/kubernetes out of the SDK).
MODULES := . $(patsubst %/go.mod,%,$(wildcard examples/go.mod bench/go.mod rollout/analysis/internal/oracle/go.mod))

.PHONY: test testbin fmt vet bench run

# testbin builds (once, then cached) the control-plane binaries tests run,
# the peer CLIs they compare against (kustomize, helm, sops, kubeseal), the
# Sealed Secrets controller, the Vault dev server, Gitea and Debian's
# headless Chromium: before the tests, so no build runs inside a test's
# timeout.
testbin:
	@bash hack/testbin/build.sh >/dev/null
	@bash hack/peers/build.sh kustomize helm sops kubeseal sealed-secrets-controller kubectl >/dev/null
	@bash hack/vault/build.sh >/dev/null
	@bash hack/gitea/build.sh >/dev/null
	@bash hack/debian.sh chromium

fmt:
	@unformatted=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi

vet:
	@for m in $(MODULES); do (cd $$m && go vet ./...); done

test: testbin fmt vet
	@export KUBEBUILDER_ASSETS=$$(bash hack/testbin/build.sh); \
	for m in $(MODULES); do (cd $$m && go test -race -timeout 20m ./...); done

bench: testbin
	@if [ -f bench/go.mod ]; then \
		export KUBEBUILDER_ASSETS=$$(bash hack/testbin/build.sh); cd bench && go run .; \
	else echo "bench: no benchmarks yet"; fi

# run is the quickstart: builds the control-plane binaries (once, cached),
# then examples/cmd/quickstart copies examples/gitops-deploy into a temporary
# Git repository, starts a local control plane, runs converge plan, apply,
# check (after a hand edit), sync (self-heal), diff and sync (a new image
# tag rolls out), and stops everything it started.
run:
	@assets=$$(bash hack/testbin/build.sh); export KUBEBUILDER_ASSETS=$$assets; \
	echo "make run: compiling examples/cmd/quickstart (a minute or two the first time)" >&2; \
	cd examples && go run ./cmd/quickstart
