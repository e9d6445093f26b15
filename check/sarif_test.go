package check

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sarifSchema compiles testdata's SARIF 2.1.0 schema. No module on the
// Go module proxy ships sarif-schema-2.1.0.json (go-sarif v2.3.3 and
// v3.3.1, reviewdog v0.21.3 and gitleaks v8.30.1 were looked in), and
// the network reaches nothing else, so testdata holds the part of the
// official schema the output uses (see its title).
func sarifSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("testdata/sarif-schema-2.1.0-subset.json")
	require.NoError(t, err)
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	const url = "https://converge.dev/testdata/sarif-schema-2.1.0-subset.json"
	require.NoError(t, c.AddResource(url, doc))
	sch, err := c.Compile(url)
	require.NoError(t, err)
	return sch
}

func TestSARIF(t *testing.T) {
	files := map[string]string{
		"secret.yaml":                  "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop}\nstringData:\n  password: x1y2z3\n",
		".github/workflows/deploy.yml": "steps:\n  - run: kubectl apply -f .\n",
		"broken.yaml":                  "a: [\n",
	}
	rep, err := Run(context.Background(), NewTarget(mapFS(files), "abc123", DefaultLimits()), RepositoryRules(DefaultRepositoryOptions()), DefaultOptions())
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, rep.WriteSARIF(&buf, SARIFOptions{ToolName: "converge-check", ToolVersion: "0.1.0"}))

	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	require.NoError(t, sarifSchema(t).Validate(inst))

	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct{ ID string }
				}
			}
			Results []struct {
				RuleID    string
				RuleIndex int
				Level     string
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           struct{ StartLine int }
					}
				}
			}
		}
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &log))
	require.Len(t, log.Runs, 1)
	run := log.Runs[0]
	assert.Len(t, run.Tool.Driver.Rules, len(rep.Rules))
	got := map[string]string{}
	for _, r := range run.Results {
		assert.Equal(t, r.RuleID, run.Tool.Driver.Rules[r.RuleIndex].ID, "ruleIndex points at the rule")
		if len(r.Locations) > 0 {
			pl := r.Locations[0].PhysicalLocation
			got[r.RuleID] = pl.ArtifactLocation.URI + ":" + itoa(pl.Region.StartLine) + " " + r.Level
		}
	}
	assert.Equal(t, "secret.yaml:5 error", got["secret-plaintext"])
	assert.Equal(t, ".github/workflows/deploy.yml:2 error", got["ci-push-deploy"])
	assert.Equal(t, "broken.yaml:1 warning", got["yaml-invalid"])
}

// TestSARIFSchemaRejects shows the schema can fail: a log with a
// result missing its message and a region at line 0 does not validate.
func TestSARIFSchemaRejects(t *testing.T) {
	bad := `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"ruleId":"r","locations":[{"physicalLocation":{"artifactLocation":{"uri":"a"},"region":{"startLine":0}}}]}]}]}`
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(bad)))
	require.NoError(t, err)
	assert.Error(t, sarifSchema(t).Validate(inst))
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
