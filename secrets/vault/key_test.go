package vault

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseKey(t *testing.T) {
	cases := map[string]struct {
		key, mount string
		want       ref
		bad        bool
		reason     string
	}{
		"path":           {key: "app/db", mount: "secret", want: ref{path: "app/db"}, reason: "a path under the mount"},
		"full":           {key: "secret/data/app/db", mount: "secret", want: ref{path: "app/db"}, reason: "the API and argocd-vault-plugin form"},
		"leading slash":  {key: "/secret/data/db", mount: "secret", want: ref{path: "db"}},
		"nested mount":   {key: "team/kv/data/db", mount: "team/kv", want: ref{path: "db"}},
		"other mount":    {key: "kv/data/db", mount: "secret", want: ref{path: "kv/data/db"}, reason: "only this mount's prefix is stripped"},
		"vals form":      {key: "secret/app/db", mount: "secret", want: ref{path: "app/db"}, reason: "ref+vault://secret/app/db names the mount, as vals does"},
		"vals nested":    {key: "team/kv/db", mount: "team/kv", want: ref{path: "db"}},
		"version":        {key: "db?version=3", mount: "secret", want: ref{path: "db", version: 3}},
		"full version":   {key: "secret/data/db?version=12", mount: "secret", want: ref{path: "db", version: 12}},
		"unicode":        {key: "app/ключ %", mount: "secret", want: ref{path: "app/ключ %"}},
		"empty":          {key: "", mount: "secret", bad: true},
		"only mount":     {key: "secret/data/", mount: "secret", bad: true},
		"folder":         {key: "app/", mount: "secret", bad: true, reason: "a folder is not a secret"},
		"dotdot":         {key: "app/../../sys/seal", mount: "secret", bad: true, reason: "Vault cleans paths: .. would leave the mount"},
		"dot":            {key: "./db", mount: "secret", bad: true},
		"double slash":   {key: "app//db", mount: "secret", bad: true},
		"version zero":   {key: "db?version=0", mount: "secret", bad: true},
		"version word":   {key: "db?version=latest", mount: "secret", bad: true},
		"version twice":  {key: "db?version=1&version=2", mount: "secret", bad: true},
		"other query":    {key: "db?list=true", mount: "secret", bad: true},
		"fragment":       {key: "db#password", mount: "secret", bad: true, reason: "argocd-vault-plugin's #property belongs in the property argument"},
		"control":        {key: "db\n", mount: "secret", bad: true},
		"negative":       {key: "db?version=-1", mount: "secret", bad: true},
		"version suffix": {key: "db?version=2x", mount: "secret", bad: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := parseKey(tc.key, tc.mount)
			if tc.bad {
				require.ErrorIs(t, err, ErrInvalidKey, tc.reason)
				return
			}
			require.NoError(t, err, tc.reason)
			assert.Equal(t, tc.want, got, tc.reason)
		})
	}
}

func TestParsePrefix(t *testing.T) {
	cases := map[string]struct {
		prefix, want string
		bad          bool
	}{
		"root":          {prefix: "", want: ""},
		"folder":        {prefix: "app", want: "app"},
		"folder slash":  {prefix: "app/", want: "app"},
		"metadata form": {prefix: "secret/metadata/app/", want: "app"},
		"metadata root": {prefix: "secret/metadata", want: ""},
		"data form":     {prefix: "secret/data/app", want: "app"},
		"dotdot":        {prefix: "app/..", bad: true},
		"empty segment": {prefix: "a//b", bad: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := parsePrefix(tc.prefix, "secret")
			if tc.bad {
				require.ErrorIs(t, err, ErrInvalidKey)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestEscapePath(t *testing.T) {
	assert.Equal(t, "app/a%20b/%25x", escapePath("app/a b/%x"))
}

func TestValueText(t *testing.T) {
	a := answer{status: 200, contentType: "application/json", body: []byte(`{"data":{"data":{
		"big": 12345678901234567890123, "exp": 1e400, "s": "a\u00e9\n", "o": { "a" : [1, 2] }, "n": null, "b": false
	}}}`)}
	m, err := decodeRead(a, nil)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{
		"big": []byte("12345678901234567890123"),
		"exp": []byte("1e400"),
		"s":   []byte("aé\n"),
		"o":   []byte(`{"a":[1,2]}`),
		"n":   {},
		"b":   []byte("false"),
	}, m)
}
