package operator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// argoCDClusterConfig is the config key of an Argo CD cluster Secret, as
// Argo CD's ClusterConfig writes it.
type argoCDClusterConfig struct {
	Username           string          `json:"username,omitempty"`
	Password           string          `json:"password,omitempty"`
	BearerToken        string          `json:"bearerToken,omitempty"`
	TLSClientConfig    argoCDTLSConfig `json:"tlsClientConfig"`
	AWSAuthConfig      json.RawMessage `json:"awsAuthConfig,omitempty"`
	ExecProviderConfig json.RawMessage `json:"execProviderConfig,omitempty"`
	DisableCompression bool            `json:"disableCompression,omitempty"`
	ProxyURL           string          `json:"proxyUrl,omitempty"`
}

// argoCDTLSConfig holds the certificates base64-encoded, as Go encodes
// Argo CD's []byte fields; they are decoded one by one so that an error
// names the field.
type argoCDTLSConfig struct {
	Insecure   bool   `json:"insecure,omitempty"`
	ServerName string `json:"serverName,omitempty"`
	CAData     string `json:"caData,omitempty"`
	CertData   string `json:"certData,omitempty"`
	KeyData    string `json:"keyData,omitempty"`
}

// argoCDKeys are the data keys of an Argo CD cluster Secret, and why the
// ones converge does not honour are refused: dropping them would widen
// what the operator may do on the cluster.
var argoCDKeys = map[string]string{
	"name": "", "server": "", "config": "",
	// Argo CD's application controllers shard clusters by it; the
	// operator shards Applications instead, so it changes nothing here.
	"shard":            "",
	"namespaces":       "not supported: a cluster limited to some namespaces is not honoured; limit the Applications with a Project",
	"clusterResources": "not supported: it goes with namespaces, which is not honoured; limit the Applications with a Project",
	"project":          "not supported: a cluster scoped to an Argo CD project is not honoured; limit the Applications with a Project",
}

func parseArgoCDSecret(s *corev1.Secret, bad func(field, reason string) error) (*Registration, error) {
	for _, k := range slices.Sorted(maps.Keys(s.Data)) {
		reason, known := argoCDKeys[k]
		if !known {
			return nil, bad("data."+truncate(k, 64), "not a key of Argo CD's cluster Secret (name, server, config, namespaces, clusterResources, project, shard)")
		}
		if reason != "" && len(bytes.TrimSpace(s.Data[k])) > 0 {
			return nil, bad("data."+k, reason)
		}
	}
	server := string(s.Data["server"])
	if reason := serverURL(server); reason != "" {
		return nil, bad("data.server", reason)
	}
	cfg, field, reason := ArgoCDClusterConfig(server, s.Data["config"])
	if reason != "" {
		return nil, bad("data.config"+field, reason)
	}
	return &Registration{Name: cmpOr(string(s.Data["name"]), normalServer(server)), Server: normalServer(server),
		Secret: client.ObjectKeyFromObject(s), Config: cfg}, nil
}

// ArgoCDClusterConfig reads the config key of an Argo CD cluster Secret
// into the rest.Config of its server. On failure, field is the field path
// within the config (": tlsClientConfig.caData", "" for the whole) and
// reason says why, never quoting a value. It refuses what it cannot
// honour by name: execProviderConfig (it would run a program in the
// operator), awsAuthConfig, and any field Argo CD's ClusterConfig does
// not have.
func ArgoCDClusterConfig(server string, raw []byte) (cfg *rest.Config, field, reason string) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, "", "missing or empty: it holds the credentials (bearerToken, username and password, or tlsClientConfig's certData and keyData)"
	}
	if field, reason := unknownFields(raw); reason != "" {
		return nil, field, reason
	}
	var c argoCDClusterConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, "", clusterConfigReason(err)
	}
	switch {
	case len(c.ExecProviderConfig) > 0 && string(c.ExecProviderConfig) != "null":
		return nil, ": execProviderConfig", "refused: it would run a program in the operator; use a bearerToken or a client certificate"
	case len(c.AWSAuthConfig) > 0 && string(c.AWSAuthConfig) != "null":
		return nil, ": awsAuthConfig", "not supported: EKS IAM authentication; use a bearerToken or a client certificate"
	}
	cfg = &rest.Config{
		Host:               server,
		Username:           c.Username,
		Password:           c.Password,
		BearerToken:        c.BearerToken,
		DisableCompression: c.DisableCompression,
	}
	t := &c.TLSClientConfig
	cfg.Insecure, cfg.ServerName = t.Insecure, t.ServerName
	for _, d := range []struct {
		name string
		in   string
		out  *[]byte
	}{{"caData", t.CAData, &cfg.CAData}, {"certData", t.CertData, &cfg.CertData}, {"keyData", t.KeyData, &cfg.KeyData}} {
		if d.in == "" {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(d.in)
		if err != nil {
			return nil, ": tlsClientConfig." + d.name, "not base64"
		}
		*d.out = b
	}
	switch {
	case c.Password != "" && c.Username == "":
		return nil, ": password", "set without username"
	case c.BearerToken == "" && c.Username == "" && len(cfg.CertData) == 0:
		return nil, "", "names no credentials: set bearerToken, username and password, or tlsClientConfig's certData and keyData"
	case c.BearerToken != "" && c.Username != "":
		return nil, "", "set bearerToken or username and password, not both"
	case t.Insecure && len(cfg.CAData) > 0:
		return nil, ": tlsClientConfig.insecure", "set with caData: a certificate authority and no verification contradict each other"
	}
	if c.ProxyURL != "" {
		u, err := url.Parse(c.ProxyURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5") || u.Host == "" {
			return nil, ": proxyUrl", "not an http, https or socks5 URL"
		}
		cfg.Proxy = http.ProxyURL(u)
	}
	if f, reason := checkTLS(cfg); reason != "" {
		return nil, ": tlsClientConfig" + f, reason
	}
	return cfg, "", ""
}

// The fields of Argo CD's ClusterConfig and of its tlsClientConfig.
var (
	argoCDConfigFields = []string{"username", "password", "bearerToken", "tlsClientConfig", "awsAuthConfig", "execProviderConfig", "disableCompression", "proxyUrl"}
	argoCDTLSFields    = []string{"insecure", "serverName", "caData", "certData", "keyData"}
)

// fieldName matches the field names an error may quote: a name that is
// not one (a credential pasted as a key) is not repeated.
var fieldName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{0,40}$`)

// unknownFields refuses a field Argo CD's cluster config does not have,
// at the top or in tlsClientConfig, by name.
func unknownFields(raw []byte) (field, reason string) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return "", clusterConfigReason(err)
	}
	check := func(m map[string]json.RawMessage, known []string, path string) (string, string) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if slices.Contains(known, k) {
				continue
			}
			if !fieldName.MatchString(k) {
				return path, "holds a field whose name is not a field name; Argo CD's has " + strings.Join(known, ", ")
			}
			return path + k, "not understood: Argo CD's has " + strings.Join(known, ", ")
		}
		return "", ""
	}
	if field, reason := check(top, argoCDConfigFields, ": "); reason != "" {
		return field, reason
	}
	if t, ok := top["tlsClientConfig"]; ok && string(t) != "null" {
		var tls map[string]json.RawMessage
		if err := json.Unmarshal(t, &tls); err != nil {
			return ": tlsClientConfig", "not a JSON object"
		}
		return check(tls, argoCDTLSFields, ": tlsClientConfig.")
	}
	return "", ""
}

// clusterConfigReason says why a config does not decode, by field or offset,
// never quoting the input (the standard library's syntax errors quote a
// character of it).
func clusterConfigReason(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("not JSON (a syntax error at byte %d)", syn.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		// Field is the path of a field of argoCDClusterConfig: ours, not
		// the input's.
		return fmt.Sprintf("field %s is not a JSON %s", typ.Field, jsonKind(typ.Type.Kind()))
	}
	return "not a JSON object of Argo CD's cluster config"
}

func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	case reflect.Struct, reflect.Map:
		return "object"
	}
	return "value of its type"
}
