package kustomize

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestPanicSite: a panic in this module's code is told from one in a
// dependency, so that run can report the first as a bug of its own.
func TestPanicSite(t *testing.T) {
	site := func(f func()) (s string) {
		defer func() {
			if recover() != nil {
				s = panicSite()
			}
		}()
		f()
		return ""
	}
	var nilFS *confinedFS
	own := site(func() { _ = nilFS.IsDir("x") })
	assert.True(t, strings.HasPrefix(own, ownCode+"render/kustomize."), "got %q", own)
	assert.True(t, strings.HasPrefix(site(func() { panic("here") }), ownCode), "an explicit panic here")
	dep := site(func() { regexp.MustCompile("(") })
	assert.Equal(t, "regexp.MustCompile", dep)
	assert.Equal(t, "", site(func() {}))
}
