package promote

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseImagePolicy(t *testing.T) {
	// gitops-patterns.md's ImagePolicy, as written there.
	p, err := ParseImagePolicy([]byte(`
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata:
  name: backend
  namespace: flux-system
spec:
  imageRepositoryRef:
    name: backend
  policy:
    semver:
      range: '>=1.0.0'
`))
	require.NoError(t, err)
	assert.Equal(t, &ImagePolicy{Name: "backend", Namespace: "flux-system", ImageRepository: ObjectRef{Name: "backend"}, Policy: Policy{Kind: SemVer, Range: ">=1.0.0"}}, p)
	assert.Equal(t, "flux-system:backend", p.Setter())

	p, err = ParseImagePolicy([]byte(`
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: web, namespace: apps, labels: {team: a}}
spec:
  imageRepositoryRef: {name: web, namespace: flux-system}
  filterTags:
    pattern: '^main-[a-f0-9]+-(?P<ts>[0-9]+)'
    extract: '$ts'
  policy:
    numerical:
      order: asc
  digestReflectionPolicy: Always
  interval: 10m
  suspend: true
status:
  latestRef: {name: x, tag: y}
`))
	require.NoError(t, err)
	assert.Equal(t, &ImagePolicy{
		Name: "web", Namespace: "apps",
		ImageRepository:        ObjectRef{Name: "web", Namespace: "flux-system"},
		Policy:                 Policy{Kind: Numerical, Order: Asc, Filter: &TagFilter{Pattern: "^main-[a-f0-9]+-(?P<ts>[0-9]+)", Extract: "$ts"}},
		DigestReflectionPolicy: "Always", Interval: 10 * time.Minute, Suspend: true,
	}, p)
	got, err := p.Policy.Latest([]string{"main-aaa-10", "main-bbb-9"})
	require.NoError(t, err)
	assert.Equal(t, "main-aaa-10", got)

	p, err = ParseImagePolicy([]byte(`
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: web}
spec:
  imageRepositoryRef: {name: web}
  policy:
    alphabetical: {}
`))
	require.NoError(t, err)
	assert.Equal(t, Policy{Kind: Alphabetical}, p.Policy)
}

func TestParseImagePolicyRefuses(t *testing.T) {
	const head = "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {name: web}\n"
	for name, tc := range map[string]struct{ doc, want string }{
		"unknown spec field":      {head + "spec:\n  imageRepositoryRef: {name: w}\n  policy: {semver: {range: '1.x'}}\n  tagSort: x\n", "unknown field spec.tagSort"},
		"unknown semver field":    {head + "spec:\n  imageRepositoryRef: {name: w}\n  policy: {semver: {range: '1.x', prerelease: true}}\n", "unknown field spec.policy.semver.prerelease"},
		"unknown choice":          {head + "spec:\n  imageRepositoryRef: {name: w}\n  policy: {calver: {}}\n", "unknown field spec.policy.calver"},
		"unknown filter field":    {head + "spec:\n  imageRepositoryRef: {name: w}\n  policy: {semver: {range: '1.x'}}\n  filterTags: {pattern: x, replace: y}\n", "unknown field spec.filterTags.replace"},
		"unknown ref field":       {head + "spec:\n  imageRepositoryRef: {name: w, kind: X}\n  policy: {semver: {range: '1.x'}}\n", "unknown field spec.imageRepositoryRef.kind"},
		"unknown top field":       {head + "spec:\n  imageRepositoryRef: {name: w}\n  policy: {semver: {range: '1.x'}}\nextra: 1\n", "unknown field extra"},
		"two choices":             {head + "spec:\n  imageRepositoryRef: {name: w}\n  policy: {semver: {range: '1.x'}, numerical: {}}\n", "more than one of semver, numerical"},
		"no choice":               {head + "spec:\n  imageRepositoryRef: {name: w}\n  policy: {}\n", "one of semver, alphabetical or numerical is required"},
		"no range":                {head + "spec:\n  imageRepositoryRef: {name: w}\n  policy: {semver: {}}\n", "spec.policy.semver.range is required"},
		"bad range":               {head + "spec:\n  imageRepositoryRef: {name: w}\n  policy: {semver: {range: 'x1'}}\n", "semver range"},
		"bad order":               {head + "spec:\n  imageRepositoryRef: {name: w}\n  policy: {numerical: {order: up}}\n", `numerical order "up"`},
		"bad pattern":             {head + "spec:\n  imageRepositoryRef: {name: w}\n  policy: {semver: {range: '1.x'}}\n  filterTags: {pattern: '[='}\n", "filterTags pattern"},
		"no repository":           {head + "spec:\n  policy: {semver: {range: '1.x'}}\n", "imageRepositoryRef is required"},
		"interval without Always": {head + "spec:\n  imageRepositoryRef: {name: w}\n  policy: {semver: {range: '1.x'}}\n  interval: 1m\n", "spec.interval is only accepted"},
		"Always without interval": {head + "spec:\n  imageRepositoryRef: {name: w}\n  policy: {semver: {range: '1.x'}}\n  digestReflectionPolicy: Always\n", "spec.interval must be set"},
		"bad reflection":          {head + "spec:\n  imageRepositoryRef: {name: w}\n  policy: {semver: {range: '1.x'}}\n  digestReflectionPolicy: Sometimes\n", "digestReflectionPolicy"},
		"v1beta1":                 {"apiVersion: image.toolkit.fluxcd.io/v1beta1\nkind: ImagePolicy\nmetadata: {name: web}\nspec: {}\n", "is not an"},
		"another kind":            {"apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {name: web}\nspec: {}\n", "is not an"},
		"two documents":           {head + "spec: {}\n---\n" + head + "spec: {}\n", "want one object"},
		"range not a string":      {head + "spec:\n  imageRepositoryRef: {name: w}\n  policy: {semver: {range: [1]}}\n", "want a string"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseImagePolicy([]byte(tc.doc))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
