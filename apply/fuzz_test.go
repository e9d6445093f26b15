package apply

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
)

// Fuzz targets for the trust boundaries that need no cluster: a stored
// inventory (anyone who can write the ConfigMap controls it) and the
// annotations of rendered objects (anyone who can push to Git controls
// them).

func gzipBase64(t testing.TB, plain string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(plain)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func FuzzDecodeInventory(f *testing.F) {
	valid, err := encodeInventory(sortedIDs([]object.ID{
		{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "api"},
		{Kind: "ConfigMap", Namespace: "shop", Name: "settings"},
		{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "viewer"},
	}))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		base64.StdEncoding.EncodeToString(valid),
		"",
		"not base64!",
		base64.StdEncoding.EncodeToString([]byte("not gzip")),
		gzipBase64(f, ""),
		gzipBase64(f, "\n\n\n"),
		gzipBase64(f, "ConfigMap/ns/a\nConfigMap/ns/a\n"),       // duplicates
		gzipBase64(f, "Secret/a/b/c\n"),                         // too many parts
		gzipBase64(f, "ConfigMap//name\n"),                      // empty namespace
		gzipBase64(f, "Kind.with.dots/ns/..\n"),                 // dot-dot name
		gzipBase64(f, "/name\n"),                                // no kind
		gzipBase64(f, "ConfigMap/ns/a\r\nConfigMap/ns/b"),       // CR, no final newline
		gzipBase64(f, "Deploy\x00ment.apps/ns/\xff\xfe\n"),      // NUL, invalid UTF-8
		gzipBase64(f, strings.Repeat("\n", 64<<10)),             // expands 500×
		base64.StdEncoding.EncodeToString(valid[:len(valid)/2]), // truncated gzip
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, encoded string) {
		ids, err := decodeInventoryData(encoded)
		if err != nil {
			if !errors.Is(err, errCorruptInventory) {
				t.Fatalf("an error that is not errCorruptInventory: %v", err)
			}
			if ids != nil {
				t.Fatalf("IDs returned with an error: %v", ids)
			}
			return
		}
		for _, id := range ids {
			if err := id.Validate(); err != nil {
				t.Fatalf("decoded an invalid ID %q: %v", id, err)
			}
		}
		// What was decoded is what Store writes back, and reads again.
		sorted := sortedIDs(ids)
		data, err := encodeInventory(sorted)
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeInventoryData(base64.StdEncoding.EncodeToString(data))
		if err != nil {
			t.Fatalf("a decoded inventory does not decode after encoding: %v", err)
		}
		// Store compares lists this way to skip an unchanged write.
		if !slices.Equal(again, sorted) {
			t.Fatalf("round trip changed the inventory:\n%v\n%v", sorted, again)
		}
	})
}

// The annotation keys settingsOf reads, by role; the fuzzer picks which
// spelling carries each value.
var fuzzKeys = struct {
	wave, prune, recreate, mode, hook, hookPolicy [][]string
}{
	wave:       [][]string{{object.AnnotationSyncWave}, {object.ArgoSyncWave}},
	prune:      [][]string{{object.AnnotationPrune}, {object.FluxPrune}},
	recreate:   [][]string{{object.AnnotationRecreate}, {object.FluxForce}},
	mode:       [][]string{{object.AnnotationApply}, {object.FluxSSA}},
	hook:       [][]string{{object.AnnotationHook}, {object.ArgoHook}, {object.HelmHook}},
	hookPolicy: [][]string{{object.AnnotationHookDeletePolicy}, {object.ArgoHookDeletePolicy}, {object.HelmHookDeletePolicy}},
}

func FuzzSettings(f *testing.F) {
	f.Add("3", "Prune=false,Force=true", "disabled", "enabled", "IfNotPresent", "PreSync,PostSync", "HookSucceeded", "", uint8(0))
	f.Add("-1", "", "", "disabled", "Ignore", "Skip", "", "", uint8(0b1_01_01_01))
	f.Add(" 7 ", "Prune = false , ,Force=true=x", "Disabled", "yes", "merge", "pre-install,post-upgrade", "before-hook-creation,hook-failed", "-5", uint8(0b10_1_1_1_1))
	f.Add("first", "", "", "", "", "", "", "", uint8(0))
	f.Add("99999999999999999999", "", "", "", "", "", "", "", uint8(1))
	f.Add("+0x1", "Prune", "", "", "OVERRIDE", "pre-delete,test", "hook-succeeded", "1e3", uint8(0b10_0_0_0_0))
	f.Add("", "", "", "", "", "SyncFail,,Sync", "BeforeHookCreation,HookFailed,HookSucceeded", "", uint8(0b01_0_0_0_0))
	f.Add("\u0663", "", "", "", "ifnotpresent\x00", "PreSync", "Never", "", uint8(0))
	f.Fuzz(func(t *testing.T, wave, syncOptions, prune, recreate, applyMode, hook, hookPolicy, helmWeight string, pick uint8) {
		a := map[string]string{}
		set := func(keys [][]string, bit uint8, v string) string {
			k := keys[int(bit)%len(keys)][0]
			if v != "" {
				a[k] = v
			}
			return k
		}
		set(fuzzKeys.wave, pick&1, wave)
		set(fuzzKeys.prune, pick>>1&1, prune)
		set(fuzzKeys.recreate, pick>>2&1, recreate)
		set(fuzzKeys.mode, pick>>3&1, applyMode)
		hookKind := int(pick>>4&3) % 3
		set(fuzzKeys.hook, uint8(hookKind), hook)
		set(fuzzKeys.hookPolicy, uint8(hookKind), hookPolicy)
		if syncOptions != "" {
			a[object.ArgoSyncOptions] = syncOptions
		}
		if helmWeight != "" {
			a[object.HelmHookWeight] = helmWeight
		}
		obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap"}}
		obj.SetAnnotations(a)

		s, err := settingsOf(obj)
		s2, err2 := settingsOf(obj)
		if (err == nil) != (err2 == nil) || !slices.Equal(s.hooks, s2.hooks) || s.wave != s2.wave || s.mode != s2.mode {
			t.Fatal("settingsOf is not deterministic")
		}
		if err != nil {
			return
		}

		// Every accepted value is within its documented domain.
		if wave != "" {
			n, err := strconv.Atoi(strings.TrimSpace(wave))
			if err != nil {
				t.Fatalf("wave %q accepted", wave)
			}
			helmWeighted := hookKind == 2 && hook != "" && helmWeight != ""
			if s.wave != n && !helmWeighted {
				t.Fatalf("wave %q read as %d", wave, s.wave)
			}
		}
		if hookKind == 2 && hook != "" && helmWeight != "" {
			if n, err := strconv.Atoi(strings.TrimSpace(helmWeight)); err != nil || s.wave != n {
				t.Fatalf("helm hook weight %q read as wave %d", helmWeight, s.wave)
			}
		}
		if prune != "" && prune != "disabled" {
			t.Fatalf("prune %q accepted", prune)
		}
		if s.keep != (prune == "disabled" || argoSyncOptions(syncOptions)["Prune"] == "false") {
			t.Fatalf("keep=%v for prune %q, sync options %q", s.keep, prune, syncOptions)
		}
		switch recreate {
		case "":
			if s.recreate != (argoSyncOptions(syncOptions)["Force"] == "true") {
				t.Fatalf("recreate=%v for sync options %q", s.recreate, syncOptions)
			}
		case "enabled", "disabled":
			if s.recreate != (recreate == "enabled") {
				t.Fatalf("recreate=%v for %q", s.recreate, recreate)
			}
		default:
			t.Fatalf("recreate %q accepted", recreate)
		}
		wantMode := map[string]mode{"": modeApply, "ifnotpresent": modeIfNotPresent, "ignore": modeIgnore,
			"merge": modeApply, "override": modeApply, "apply": modeApply}
		if m, ok := wantMode[strings.ToLower(applyMode)]; !ok || s.mode != m {
			t.Fatalf("mode %q accepted as %d", applyMode, s.mode)
		}
		for _, ph := range s.hooks {
			switch ph {
			case PhasePreSync, PhaseSync, PhasePostSync, PhaseSyncFail:
			default:
				t.Fatalf("unknown phase %q", ph)
			}
		}
		if hook == "" && (len(s.hooks) > 0 || s.skip || s.deletePolicy != 0) {
			t.Fatalf("hook settings without a hook annotation: %+v", s)
		}
		if len(s.hooks) > 0 && s.deletePolicy == 0 {
			t.Fatal("a hook without a delete policy")
		}
		if s.deletePolicy&^(beforeHookCreation|hookSucceeded|hookFailed) != 0 {
			t.Fatalf("delete policy %b out of range", s.deletePolicy)
		}
		if hook != "" && len(s.hooks) == 0 && !s.skip {
			t.Fatalf("hook %q accepted as neither a phase nor skipped", hook)
		}
	})
}
