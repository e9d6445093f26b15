package check

import (
	"encoding/json"
	"io"
	"path"
	"strings"
)

// SARIFOptions configure [Report.WriteSARIF].
type SARIFOptions struct {
	// ToolName and ToolVersion name the tool in runs[0].tool.driver.
	ToolName, ToolVersion string
	// InformationURI is the tool's home page.
	InformationURI string
}

// DefaultSARIFOptions names the tool "converge-check".
func DefaultSARIFOptions() SARIFOptions {
	return SARIFOptions{ToolName: "converge-check", InformationURI: "https://github.com/converge-dev/converge"}
}

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Results     []sarifResult     `json:"results"`
	Invocations []sarifInvocation `json:"invocations,omitempty"`
}

type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Message sarifMessage `json:"message"`
	Level   string       `json:"level"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string          `json:"id"`
	Name                 string          `json:"name,omitempty"`
	ShortDescription     sarifMessage    `json:"shortDescription"`
	Help                 sarifMessage    `json:"help"`
	DefaultConfiguration sarifConfig     `json:"defaultConfiguration"`
	Properties           sarifProperties `json:"properties"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifProperties struct {
	Tags             []string `json:"tags,omitempty"`
	Severity         string   `json:"severity,omitempty"`
	SecuritySeverity string   `json:"security-severity,omitempty"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID     string          `json:"ruleId"`
	RuleIndex  int             `json:"ruleIndex"`
	Level      string          `json:"level"`
	Message    sarifMessage    `json:"message"`
	Locations  []sarifResLoc   `json:"locations,omitempty"`
	Properties sarifProperties `json:"properties"`
}

type sarifResLoc struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

type sarifLogical struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind,omitempty"`
}

// level maps a severity to SARIF's levels.
func (s Severity) level() string {
	switch {
	case s >= SeverityHigh:
		return "error"
	case s >= SeverityLow:
		return "warning"
	}
	return "note"
}

// securitySeverity is GitHub code scanning's 0.0-10.0 score.
func (s Severity) securitySeverity() string {
	return [...]string{"0.0", "0.0", "2.0", "5.0", "7.5", "9.5"}[max(0, min(int(s), 5))]
}

// WriteSARIF writes the report as a SARIF 2.1.0 log of one run, with
// every rule that ran in runs[0].tool.driver.rules and each finding a
// result at its file and line, relative to %SRCROOT%. It holds no
// snippets: only what the findings' messages say.
func (r *Report) WriteSARIF(w io.Writer, opts SARIFOptions) error {
	if opts.ToolName == "" {
		opts.ToolName = DefaultSARIFOptions().ToolName
	}
	run := sarifRun{Tool: sarifTool{Driver: sarifDriver{Name: opts.ToolName, Version: opts.ToolVersion, InformationURI: opts.InformationURI, Rules: []sarifRule{}}}, Results: []sarifResult{}}
	index := map[string]int{}
	for i, m := range r.Rules {
		index[m.ID] = i
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
			ID: m.ID, Name: ruleName(m.ID),
			ShortDescription:     sarifMessage{Text: m.Title},
			Help:                 sarifMessage{Text: m.Fix},
			DefaultConfiguration: sarifConfig{Level: m.Severity.level()},
			Properties:           sarifProperties{Tags: []string{"gitops", string(m.Section)}, Severity: m.Severity.String(), SecuritySeverity: m.Severity.securitySeverity()},
		})
	}
	for _, f := range r.Findings() {
		res := sarifResult{RuleID: f.Rule, RuleIndex: index[f.Rule], Level: f.Severity.level(), Message: sarifMessage{Text: f.Message},
			Properties: sarifProperties{Severity: f.Severity.String(), SecuritySeverity: f.Severity.securitySeverity()}}
		var loc sarifResLoc
		if f.Location.File != "" {
			loc.PhysicalLocation = &sarifPhysical{ArtifactLocation: sarifArtifact{URI: path.Clean(f.Location.File), URIBaseID: "%SRCROOT%"}}
			if f.Location.Line > 0 {
				loc.PhysicalLocation.Region = &sarifRegion{StartLine: f.Location.Line, StartColumn: f.Location.Column}
			}
		}
		if f.Location.Object != nil {
			loc.LogicalLocations = []sarifLogical{{FullyQualifiedName: objectString(*f.Location.Object), Kind: "object"}}
		}
		if loc.PhysicalLocation != nil || loc.LogicalLocations != nil {
			res.Locations = []sarifResLoc{loc}
		}
		run.Results = append(run.Results, res)
	}
	inv := sarifInvocation{ExecutionSuccessful: true}
	for _, n := range r.Notes {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{Message: sarifMessage{Text: n}, Level: "note"})
	}
	run.Invocations = []sarifInvocation{inv}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs:    []sarifRun{run},
	})
}

// ruleName turns "image-latest" into "ImageLatest", SARIF's rule name.
func ruleName(id string) string {
	var b strings.Builder
	for w := range strings.SplitSeq(id, "-") {
		if w != "" {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}
