package sealed_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/secrets/sealed"
)

// FuzzUnseal: arbitrary ciphertexts, names and whole objects give an
// error or the original value; a valid sealed value, mutated, never
// unseals to anything else; no error text quotes the plaintext.
func FuzzUnseal(f *testing.F) {
	keys := testKeys(f)
	valid, err := sealed.EncryptValue(rnd, keys.Public(), sealed.ScopeStrict, "shop", "db", []byte(markerPassword))
	require.NoError(f, err)
	ct, err := base64.StdEncoding.DecodeString(valid)
	require.NoError(f, err)

	f.Add(ct, "shop", "db", []byte(nil))
	f.Add(ct[:len(ct)-1], "shop", "db", []byte(nil))
	f.Add(ct[:2], "shop", "db", []byte(nil))
	f.Add([]byte{0xff, 0xff}, "shop", "db", []byte(nil))
	f.Add([]byte{}, "", "", []byte(nil))
	f.Add(ct, "shop", "db2", []byte(nil))
	f.Add(ct, "shop/db", "", []byte(`{"metadata":{"annotations":{"sealedsecrets.bitnami.com/cluster-wide":"true"}}}`))
	f.Add(ct, "shop", "db", []byte(`{"spec":{"template":{"data":{"x":"{{ .password }}"}}}}`))
	f.Add(ct, "shop", "db", []byte(`{"spec":{"data":"AAAA","encryptedData":{}}}`))
	f.Add(ct, "shop", "db", []byte(`{"spec":{"template":{"metadata":{"annotations":{"sealedsecrets.bitnami.com/cluster-wide":"true"}}}}}`))
	f.Add(ct, "shop", "db", []byte(`{"spec":{"encryptedData":{"password":7}}}`))
	f.Add(ct, "shop", "db", []byte(`{"spec":"x"}`))

	f.Fuzz(func(t *testing.T, ciphertext []byte, ns, name string, patch []byte) {
		ss := sealedWith(ns, name, sealed.ScopeStrict, map[string]any{"password": base64.StdEncoding.EncodeToString(ciphertext)})
		if len(patch) > 0 {
			var p map[string]any
			if json.Unmarshal(patch, &p) == nil {
				for k, v := range p {
					if k == "metadata" || k == "spec" {
						if m, ok := v.(map[string]any); ok {
							base, _ := ss.Object[k].(map[string]any)
							for kk, vv := range m {
								if k == "spec" && kk == "encryptedData" {
									continue // keep the fuzzed ciphertext
								}
								base[kk] = vv
							}
							continue
						}
					}
					ss.Object[k] = v
				}
			}
		}
		s, err := keys.Unseal(ss)
		if err != nil {
			require.Nil(t, s)
			require.NotContains(t, err.Error(), markerPassword)
			var ue *sealed.Error
			require.True(t, errors.As(err, &ue), "error %v is not a *sealed.Error", err)
			return
		}
		got, ok := s.Data["password"]
		require.True(t, ok)
		// Only a value sealed by the test key for shop/db opens (the seed's,
		// sealed in whichever process set up the corpus): a mutation that
		// unsealed to anything else would be a forgery.
		require.Equal(t, markerPassword, string(got))
		require.Equal(t, "shop", s.Namespace)
		require.Equal(t, "db", s.Name)
	})
}

// FuzzParsePrivateKeys: arbitrary input is a key set or an error, never
// a panic, and no error quotes key material.
func FuzzParsePrivateKeys(f *testing.F) {
	for _, name := range []string{"key1.pem", "key2.pem", "keys-list.yaml", "ec-key.pem", "cert1.pem"} {
		f.Add(readTestdata(f, name))
	}
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END RSA PRIVATE KEY-----\n"))
	f.Add([]byte("a: &a [*a, *a]\nb: &b [*a, *a, *a, *a]\nc: [*b, *b, *b, *b]\n"))
	f.Add([]byte(`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Secret","data":{"tls.key":7}}]}`))
	f.Add([]byte("apiVersion: v1\nkind: Secret\ndata: {tls.key: '!!!'}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := sealed.ParsePrivateKeys(data)
		if err != nil {
			require.Nil(t, keys)
			require.NotContains(t, err.Error(), "-----BEGIN")
			return
		}
		require.Positive(t, keys.Len())
		require.NotNil(t, keys.Public())
		require.Len(t, keys.Fingerprints(), keys.Len())
	})
}

// FuzzParsePublicKey: arbitrary input is an RSA key or an error.
func FuzzParsePublicKey(f *testing.F) {
	for _, name := range []string{"cert1.pem", "pub1.pem", "expired-cert.pem", "key1.pem", "ec-key.pem"} {
		f.Add(readTestdata(f, name))
	}
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\n\n-----END PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pub, err := sealed.ParsePublicKey(data)
		if err != nil {
			require.Nil(t, pub)
			return
		}
		require.NotNil(t, pub.N)
		require.NotEmpty(t, sealed.Fingerprint(pub))
	})
}
