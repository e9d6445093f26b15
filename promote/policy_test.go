package promote

import (
	"math/rand"
	"testing"

	"github.com/Masterminds/semver/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Flux's policy package is internal to image-reflector-controller, so it
// cannot be imported even from a test-only module. These tables are ported
// from fluxcd/image-reflector-controller (commit debe2aa),
// internal/policy/{semver,alphabetical,numerical,filter}_test.go and
// internal/controller/{imagepolicy_controller,policy}_test.go, with Flux's
// answers.

func TestSemVerRangesFlux(t *testing.T) {
	// internal/policy/semver_test.go TestNewSemVer
	for _, r := range []string{"1.0.x", "^1.0", "=1.0.0", "~1.0", ">=1.0", ">0,<2.0"} {
		assert.NoError(t, Policy{Kind: SemVer, Range: r}.Validate(), r)
	}
	for _, r := range []string{"1.0.0p", "1x", "x1", "-1", "a", "", "*-*"} {
		assert.ErrorIs(t, Policy{Kind: SemVer, Range: r}.Validate(), ErrInvalidPolicy, r)
	}
}

type latestCase struct {
	policy  Policy
	tags    []string
	want    string
	wantErr error
}

func runLatest(t *testing.T, cases map[string]latestCase) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := tc.policy.Latest(tc.tags)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func semverP(r string) Policy { return Policy{Kind: SemVer, Range: r} }

func TestLatestSemVerFlux(t *testing.T) {
	runLatest(t, map[string]latestCase{
		// internal/policy/semver_test.go TestSemVer_Latest
		"With valid format":              {policy: semverP("1.0.x"), tags: []string{"1.0.0", "1.0.0.1", "1.0.0p", "1.0.1", "1.2.0", "0.1.0"}, want: "1.0.1"},
		"With valid format prefix":       {policy: semverP("1.0.x"), tags: []string{"v1.2.3", "v1.0.0", "v0.1.0"}, want: "v1.0.0"},
		"With invalid format prefix":     {policy: semverP("1.0.x"), tags: []string{"b1.2.3", "b1.0.0", "b0.1.0"}, wantErr: ErrNoMatch},
		"With empty list":                {policy: semverP("1.0.x"), tags: []string{}, wantErr: ErrNoMatch},
		"With non-matching version list": {policy: semverP("1.0.x"), tags: []string{"1.2.0"}, wantErr: ErrNoMatch},
		// internal/controller/imagepolicy_controller_test.go TestImagePolicyReconciler_applyPolicy
		"no tags in database":          {policy: semverP("1.0.x"), tags: nil, wantErr: ErrNoMatch},
		"semver, no tag filter":        {policy: semverP("1.0.x"), tags: []string{"1.0.0", "2.0.0", "1.0.1", "1.2.0"}, want: "1.0.1"},
		"semver with 'v' prefix":       {policy: semverP("v1.0.x"), tags: []string{"v1.0.0", "v2.0.0", "v1.0.1", "v1.2.0"}, want: "v1.0.1"},
		"range v, data without v":      {policy: semverP("v1.0.x"), tags: []string{"1.0.0", "2.0.0", "1.0.1", "1.2.0"}, want: "1.0.1"},
		"range without v, data with v": {policy: semverP("1.0.x"), tags: []string{"v1.0.0", "v2.0.0", "v1.0.1", "v1.2.0"}, want: "v1.0.1"},
		"invalid tag filter":           {policy: Policy{Kind: SemVer, Range: "1.0.x", Filter: &TagFilter{Pattern: "[="}}, tags: []string{"1.0.0", "1.0.1"}, wantErr: ErrInvalidPolicy},
		// internal/controller/policy_test.go
		"using SemVerPolicy":                    {policy: semverP("1.0.x"), tags: []string{"0.1.0", "0.1.1", "0.2.0", "1.0.0", "1.0.1", "1.0.2", "1.1.0-alpha"}, want: "1.0.2"},
		"using SemVerPolicy with invalid range": {policy: semverP("*-*"), tags: []string{"0.1.0"}, wantErr: ErrInvalidPolicy},
		"filterTags extract":                    {policy: Policy{Kind: SemVer, Range: ">=0.x", Filter: &TagFilter{Pattern: "^test-(.*)$", Extract: "$1"}}, tags: []string{"test-0.1.0", "test-0.1.1", "dev-0.2.0", "1.0.0", "1.0.1", "1.0.2", "1.1.0-alpha"}, want: "test-0.1.1"},
		"filterTags invalid pattern":            {policy: Policy{Kind: SemVer, Range: ">=0.x", Filter: &TagFilter{Pattern: "^test-(.*", Extract: "$1"}}, tags: []string{"test-0.1.0"}, wantErr: ErrInvalidPolicy},
		// imagerepo semver test: 1.x over a pre-release
		"1.x skips a pre-release": {policy: semverP("1.x"), tags: []string{"1.0.1", "1.0.2", "1.1.0-alpha"}, want: "1.0.2"},
	})
}

// Masterminds constraint semantics for pre-releases and ties, which Flux
// inherits.
func TestLatestSemVerPreReleasesAndTies(t *testing.T) {
	tags := []string{"1.0.0", "1.1.0-rc.1", "1.1.0-rc.2", "1.0.1", "2.0.0-beta.1"}
	runLatest(t, map[string]latestCase{
		"a plain range skips pre-releases":      {policy: semverP(">=1.0.0"), tags: tags, want: "1.0.1"},
		"a pre-release range takes them":        {policy: semverP(">=1.0.0-0"), tags: tags, want: "2.0.0-beta.1"},
		"a release beats its own pre-releases":  {policy: semverP(">=1.1.0-0"), tags: []string{"1.1.0-rc.2", "1.1.0", "1.1.0-rc.3"}, want: "1.1.0"},
		"rc.10 beats rc.9 (numeric identifier)": {policy: semverP(">=1.1.0-0"), tags: []string{"1.1.0-rc.9", "1.1.0-rc.10"}, want: "1.1.0-rc.10"},
		"two parts are not a version":           {policy: semverP(">=1"), tags: []string{"1.5", "2"}, wantErr: ErrNoMatch},
		"equal versions: the first wins":        {policy: semverP("1.x"), tags: []string{"v1.2.0", "1.2.0", "1.2.0+build.7"}, want: "v1.2.0"},
		"equal versions: the first wins, again": {policy: semverP("1.x"), tags: []string{"1.2.0+build.7", "v1.2.0", "1.2.0"}, want: "1.2.0+build.7"},
		"latest and garbage are skipped":        {policy: semverP("*"), tags: []string{"latest", "main", "1.2.3", "\n1.2.4", "1.2.5\n"}, want: "1.2.3"},
	})
}

func TestAlphabeticalOrdersFlux(t *testing.T) {
	// internal/policy/alphabetical_test.go TestNewAlphabetical, plus the
	// factory's upper-casing
	for _, o := range []Order{"", Asc, Desc, "ASC", "Desc"} {
		assert.NoError(t, Policy{Kind: Alphabetical, Order: o}.Validate(), o)
		assert.NoError(t, Policy{Kind: Numerical, Order: o}.Validate(), o)
	}
	assert.ErrorIs(t, Policy{Kind: Alphabetical, Order: "invalid"}.Validate(), ErrInvalidPolicy)
	assert.ErrorIs(t, Policy{Kind: Numerical, Order: "invalid"}.Validate(), ErrInvalidPolicy)
	assert.ErrorIs(t, Policy{}.Validate(), ErrInvalidPolicy)
}

func alpha(o Order) Policy { return Policy{Kind: Alphabetical, Order: o} }
func num(o Order) Policy   { return Policy{Kind: Numerical, Order: o} }

func TestLatestAlphabeticalFlux(t *testing.T) {
	calver := []string{"16.04", "16.04.1", "16.10", "20.04", "20.10"}
	names := []string{"xenial", "yakkety", "zesty", "artful", "bionic"}
	ts := []string{"1606234201", "1606364286", "1606334092", "1606334284", "1606334201"}
	rfc := []string{"2021-01-08T21-18-21Z", "2020-05-08T21-18-21Z", "2021-01-08T19-20-00Z", "1990-01-08T00-20-00Z", "2023-05-08T00-20-00Z"}
	runLatest(t, map[string]latestCase{
		// internal/policy/alphabetical_test.go TestAlphabetical_Latest
		"With Ubuntu CalVer":                 {policy: alpha(""), tags: calver, want: "20.10"},
		"With Ubuntu CalVer descending":      {policy: alpha(Desc), tags: calver, want: "16.04"},
		"With Ubuntu code names":             {policy: alpha(""), tags: names, want: "zesty"},
		"With Ubuntu code names descending":  {policy: alpha(Desc), tags: names, want: "artful"},
		"With Timestamps":                    {policy: alpha(""), tags: ts, want: "1606364286"},
		"With Unix Timestamps desc":          {policy: alpha(Desc), tags: ts, want: "1606234201"},
		"With Unix Timestamps prefix":        {policy: alpha(""), tags: []string{"rel-1606234201", "rel-1606364286", "rel-1606334092", "rel-1606334284", "rel-1606334201"}, want: "rel-1606364286"},
		"With RFC3339":                       {policy: alpha(""), tags: rfc, want: "2023-05-08T00-20-00Z"},
		"With RFC3339 desc":                  {policy: alpha(Desc), tags: rfc, want: "1990-01-08T00-20-00Z"},
		"Empty version list":                 {policy: alpha(""), tags: []string{}, wantErr: ErrNoMatch},
		"byte order: upper case sorts first": {policy: alpha(""), tags: []string{"B", "a", "Z"}, want: "a"},
		// internal/controller/imagepolicy_controller_test.go
		"valid tag filter with alphabetical policy": {policy: Policy{Kind: Alphabetical, Order: Asc, Filter: &TagFilter{Pattern: "foo-(?P<word>[a-z]+)", Extract: "$word"}}, tags: []string{"foo-aaa", "bar-bbb", "foo-zzz", "baz-nnn", "foo-ooo"}, want: "foo-zzz"},
		// internal/controller/policy_test.go
		"using AlphabeticalPolicy": {policy: alpha(""), tags: names, want: "zesty"},
	})
}

func shuffled(list []string) []string {
	out := append([]string(nil), list...)
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func TestLatestNumericalFlux(t *testing.T) {
	ts := []string{"1606234201", "1606364286", "1606334092", "1606334284", "1606334201"}
	runLatest(t, map[string]latestCase{
		// internal/policy/numerical_test.go TestNumerical_Latest
		"integers ascending":                 {policy: num(""), tags: shuffled([]string{"-62", "-88", "73", "72", "15", "16", "15", "29", "-33", "-91"}), want: "73"},
		"integers descending":                {policy: num(Desc), tags: shuffled([]string{"5", "-8", "-78", "25", "70", "-4", "80", "92", "-20", "-24"}), want: "-78"},
		"floats ascending":                   {policy: num(""), tags: shuffled([]string{"47.40896403322944", "-27.8520927455902", "-27.930666514224427", "-31.352485948094568", "-50.41072694704882", "-21.962849842263736", "24.71884721436865", "-39.99177354004344", "53.47333823144817", "3.2008658570411086"}), want: "53.47333823144817"},
		"floats descending":                  {policy: num(Desc), tags: shuffled([]string{"-65.27202780220686", "57.82948329142309", "22.40184684363291", "-86.36934305697784", "-90.29082099756083", "-12.041712603564264", "77.70488240399305", "-38.98425003883552", "16.06867070412028", "53.735674335181216"}), want: "-90.29082099756083"},
		"Unix Timestamps ascending":          {policy: num(""), tags: shuffled(ts), want: "1606364286"},
		"Unix Timestamps descending":         {policy: num(Desc), tags: shuffled(ts), want: "1606234201"},
		"single value ascending":             {policy: num(""), tags: []string{"1"}, want: "1"},
		"single value descending":            {policy: num(Desc), tags: []string{"1"}, want: "1"},
		"With invalid numerical value":       {policy: num(""), tags: []string{"0", "1a", "b"}, wantErr: ErrInvalidTag},
		"Empty version list":                 {policy: num(""), tags: []string{}, wantErr: ErrNoMatch},
		"equal numbers: the last wins":       {policy: num(""), tags: []string{"1", "1.0", "01"}, want: "01"},
		"equal numbers: the last wins, desc": {policy: num(Desc), tags: []string{"1", "1.0", "01"}, want: "01"},
		// internal/controller/imagepolicy_controller_test.go
		"valid tag filter with numerical policy": {policy: Policy{Kind: Numerical, Order: Asc, Filter: &TagFilter{Pattern: "1.0.0-rc\\.(?P<num>[0-9]+)", Extract: "$num"}}, tags: []string{"1.0.0", "1.0.0-rc.1", "1.0.0-rc.2", "1.0.0-rc.3", "1.0.1-rc.2"}, want: "1.0.0-rc.3"},
	})
}

// TestFilterFlux ports internal/policy/filter_test.go TestRegexFilter: the
// values a filter hands the policy, as a set.
func TestFilterFlux(t *testing.T) {
	complexTags := []string{"123-123.123.abcd123-debug", "123-123.123.abcd123", "123-123.123.abcd456-debug", "123-123.123.abcd456"}
	for name, tc := range map[string]struct {
		tags             []string
		pattern, extract string
		want             []string
	}{
		"none":                             {tags: []string{"a"}, want: []string{"a"}},
		"valid pattern":                    {tags: []string{"ver1", "ver2", "ver3", "rel1"}, pattern: "^ver", want: []string{"ver1", "ver2", "ver3"}},
		"valid pattern with capture group": {tags: []string{"ver1", "ver2", "ver3", "rel1"}, pattern: `ver(\d+)`, extract: `$1`, want: []string{"1", "2", "3"}},
		"complex regex 1":                  {tags: complexTags, pattern: `^(123-[0-9]+\.[0-9]+\.[a-z0-9]+-debug)`, want: []string{"123-123.123.abcd123-debug", "123-123.123.abcd456-debug"}},
		"complex regex 2":                  {tags: complexTags, pattern: `^(?P<tag>123-[0-9]+\.[0-9]+\.[a-z0-9]+[^-debug])`, extract: `$tag`, want: []string{"123-123.123.abcd123", "123-123.123.abcd456"}},
		"complex regex 3":                  {tags: complexTags, pattern: `^(?P<tag>123-[0-9]+\.[0-9]+\.[a-z0-9]+$)`, extract: `$tag`, want: []string{"123-123.123.abcd123", "123-123.123.abcd456"}},
		"${name} braces":                   {tags: []string{"main-abc-1700000000", "main-def-1700000500"}, pattern: `^main-[a-f0-9]+-(?P<ts>[0-9]+)`, extract: `${ts}`, want: []string{"1700000000", "1700000500"}},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := Policy{Kind: Alphabetical, Filter: &TagFilter{Pattern: tc.pattern, Extract: tc.extract}}.compile()
			require.NoError(t, err)
			got, _ := c.apply(tc.tags)
			assert.ElementsMatch(t, tc.want, got)
		})
	}
}

func TestLatestFilterExtract(t *testing.T) {
	// the docs' example: main-<sha>-<ts>, newest timestamp
	tags := []string{"main-abc1234-1700000000", "main-0ff1ce0-1700000999", "dev-aaaaaaa-1800000000", "main-bad"}
	runLatest(t, map[string]latestCase{
		"$ts":                      {policy: Policy{Kind: Numerical, Filter: &TagFilter{Pattern: `^main-[a-f0-9]+-(?P<ts>[0-9]+)`, Extract: "$ts"}}, tags: tags, want: "main-0ff1ce0-1700000999"},
		"${ts}":                    {policy: Policy{Kind: Alphabetical, Filter: &TagFilter{Pattern: `^main-[a-f0-9]+-(?P<ts>[0-9]+)`, Extract: "${ts}"}}, tags: tags, want: "main-0ff1ce0-1700000999"},
		"nothing matches":          {policy: Policy{Kind: Numerical, Filter: &TagFilter{Pattern: `^release-`}}, tags: tags, wantErr: ErrNoMatch},
		"same value: the last tag": {policy: Policy{Kind: SemVer, Range: "*", Filter: &TagFilter{Pattern: `^(?:a|b)-(.*)$`, Extract: "$1"}}, tags: []string{"a-1.0.0", "b-1.0.0", "a-0.9.0"}, want: "b-1.0.0"},
		"unanchored pattern":       {policy: Policy{Kind: Alphabetical, Filter: &TagFilter{Pattern: `rc`}}, tags: []string{"1-rc", "rc-2", "3"}, want: "rc-2"},
	})
}

// TestPlainVersionIsMastermindsParse: the fast path parses exactly what
// Masterminds' parser does, to the same version and Original, and leaves
// everything else to it.
func TestPlainVersionIsMastermindsParse(t *testing.T) {
	for _, tag := range []string{"0.0.0", "1.2.3", "10.20.30", "999999999999999999.0.1"} {
		v, ok := plainVersion(tag)
		require.True(t, ok, tag)
		want, err := semver.NewVersion(tag)
		require.NoError(t, err)
		assert.True(t, want.Equal(v), tag)
		assert.Equal(t, tag, v.Original())
	}
	for _, tag := range []string{"", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "v1.2.3", "1.2.3-rc.1", "1.2.3+meta", "1..3", ".1.2", "1.2.", "1.2.x", "1234567890123456789.0.0"} {
		_, ok := plainVersion(tag)
		assert.False(t, ok, tag)
	}
}
