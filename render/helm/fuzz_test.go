package helm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// fuzzTgz builds a seed archive.
func fuzzTgz(entries map[string]string, link string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, data := range entries {
		_ = tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))})
		_, _ = tw.Write([]byte(data))
	}
	if link != "" {
		_ = tw.WriteHeader(&tar.Header{Name: link, Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"})
	}
	_ = tw.Close()
	_ = zw.Close()
	return buf.Bytes()
}

// FuzzLoad loads a chart whose Chart.yaml, .helmignore, one template and
// a subchart archive come from the fuzzer, through an fs.FS that also
// holds a marker outside the chart. Loading must not panic (converge's
// code does not recover, and a panic Helm's loader recovers from fails the
// target too), must stay within its budget, and a failure must quote
// neither the marker nor the values file's secret.
func FuzzLoad(f *testing.F) {
	sub := "apiVersion: v2\nname: sub\nversion: 0.1.0\n"
	good := "apiVersion: v2\nname: c\nversion: 0.1.0\ndependencies:\n- name: sub\n  version: 0.1.0\n"
	f.Add(good, "", "kind: ConfigMap", fuzzTgz(map[string]string{"sub/Chart.yaml": sub, "sub/templates/a.yaml": "x: 1"}, ""))
	f.Add(good, "*.tgz\n", "", fuzzTgz(map[string]string{"sub/Chart.yaml": sub}, ""))
	f.Add(good, "", "", fuzzTgz(map[string]string{"sub/Chart.yaml": sub, "sub/../../../etc/x": "x"}, ""))
	f.Add(good, "", "", fuzzTgz(map[string]string{"/abs": "x"}, ""))
	f.Add(good, "", "", fuzzTgz(map[string]string{"sub/Chart.yaml": sub}, "sub/templates/l.yaml"))
	f.Add(good, "", "", fuzzTgz(map[string]string{"Chart.yaml": sub}, ""))
	f.Add(good, "", "", fuzzTgz(map[string]string{"sub/Chart.yaml": sub, "sub/charts/in.tgz": string(fuzzTgz(map[string]string{"in/Chart.yaml": sub}, ""))}, ""))
	f.Add("apiVersion: v2\nname: [\n", "", "", []byte{})
	f.Add("name: c\nversion: x\ntype: library\n", "!templates\n", "{{", []byte("\x1f\x8b\x08\x00garbage"))
	f.Add("apiVersion: v1\nname: c\nversion: 1.0.0\n", "templates/\n", "", []byte{})
	f.Fuzz(func(t *testing.T, chartYAML, helmignore, template string, archive []byte) {
		fsys := fstest.MapFS{
			"secret/file.yaml":        {Data: []byte("MARKER-OUTSIDE")},
			"c/Chart.yaml":            {Data: []byte(chartYAML)},
			"c/.helmignore":           {Data: []byte(helmignore)},
			"c/values.yaml":           {Data: []byte("password: MARKER-VALUE\n")},
			"c/templates/a.yaml":      {Data: []byte(template)},
			"c/charts/sub-0.1.0.tgz":  {Data: archive},
			"c/charts/dir/Chart.yaml": {Data: []byte("apiVersion: v2\nname: dir\nversion: 0.1.0\n")},
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		const limit = 4 << 20
		b := &budget{files: 100, bytes: limit, perFile: 1 << 20}
		chrt, err := loadChart(ctx, fsys, "c", nil, b)
		if err != nil {
			if chrt != nil {
				t.Fatal("a chart with an error")
			}
			if errors.Is(err, errLoaderPanic) {
				t.Fatalf("Helm's loader panicked: %v", err)
			}
			msg := err.Error()
			if strings.Contains(msg, "MARKER-OUTSIDE") {
				t.Fatalf("content from outside the chart in the error: %v", err)
			}
			if strings.Contains(msg, "MARKER-VALUE") {
				t.Fatalf("a value in the error: %v", err)
			}
			return
		}
		if b.bytes < 0 || b.files < 0 {
			t.Fatalf("loaded beyond the budget: %+v", b)
		}
		if chrt.Metadata == nil {
			t.Fatal("a chart without metadata")
		}
	})
}
