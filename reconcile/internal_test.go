package reconcile

import (
	"testing"
	"time"
)

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "anything/at/all", true},
		{"https://github.com/myorg/*", "https://github.com/myorg/gitops-deploy.git", true},
		{"https://github.com/myorg/*", "https://github.com/other/repo", false},
		{"team-*", "team-a", true},
		{"team-*", "staff-a", false},
		{"*-prod", "backend-prod", true},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXcYYb", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"?at", "cat", true},
		{"", "", true},
		{"", "x", false},
	} {
		if got := glob(tc.pattern, tc.s); got != tc.want {
			t.Errorf("glob(%q, %q) = %v", tc.pattern, tc.s, got)
		}
	}
}

func TestBackoff(t *testing.T) {
	argo := Retry{Limit: 3, Backoff: 5 * time.Second, Factor: 2, MaxBackoff: 3 * time.Minute}
	var got []time.Duration
	for n := 1; n <= 8; n++ {
		got = append(got, backoff(argo, n, time.Minute))
	}
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 3 * time.Minute, 3 * time.Minute}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Argo CD's backoff: %v, want %v", got, want)
		}
	}
	flux := Retry{Backoff: 2 * time.Minute, Factor: 1}
	if backoff(flux, 1, 5*time.Minute) != 2*time.Minute || backoff(flux, 9, 5*time.Minute) != 2*time.Minute {
		t.Fatal("Flux's retryInterval is a constant wait")
	}
	if backoff(Retry{}, 1, 5*time.Minute) != 5*time.Minute {
		t.Fatal("no backoff: the interval")
	}
	if d := backoff(Retry{Backoff: time.Hour, Factor: 10}, 40, 0); d != 24*time.Hour {
		t.Fatalf("an unbounded backoff is capped at a day, got %s", d)
	}
}
