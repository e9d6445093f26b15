package check

import (
	"context"
	"path"
	"regexp"
	"strings"
)

// PushDeploys is the rule "ci-push-deploy": CI files (GitHub Actions
// workflows, GitLab CI) that run kubectl apply, edit, patch, replace,
// create or set, or helm install or upgrade, against a cluster: deploys
// pushed beside GitOps. Dry runs and kubectl diff pass. Findings name
// the command, never the rest of the line (it may hold a token).
func PushDeploys() Rule { return NewRule(pushDeploysMeta, pushDeploys) }

var pushDeploysMeta = Meta{
	ID:       "ci-push-deploy",
	Title:    "CI deploys to a cluster by push",
	Severity: SeverityHigh,
	Section:  SectionPushDeploys,
	Fix:      "Remove kubectl and helm writes from CI; let CI update Git (an image tag, a values file) and the GitOps agent apply it",
}

var (
	kubectlWrite = regexp.MustCompile(`\bkubectl(?:\s+-{1,2}[A-Za-z-]+(?:[= ]\S+)?)*\s+(apply|edit|patch|replace|create|set|scale|delete)\b`)
	helmWrite    = regexp.MustCompile(`\bhelm(?:\s+-{1,2}[A-Za-z-]+(?:[= ]\S+)?)*\s+(upgrade|install)\b`)
	dryRun       = regexp.MustCompile(`--dry-run(?:=(?:client|server|true))?\b`)
)

func isCIFile(p string) bool {
	dir, base := path.Dir(p), path.Base(p)
	return (dir == ".github/workflows" && isYAML(base)) || base == ".gitlab-ci.yml" || base == ".gitlab-ci.yaml" ||
		strings.HasPrefix(p, ".gitlab/ci/") && isYAML(base)
}

func pushDeploys(ctx context.Context, t *Target) ([]Finding, error) {
	files, err := t.Files(ctx)
	var out []Finding
	for _, f := range files {
		if !isCIFile(f.Path) {
			continue
		}
		ci := "the GitHub Actions workflow"
		if strings.Contains(f.Path, "gitlab") {
			ci = "the GitLab CI pipeline"
		}
		d := &Document{File: f.Path}
		for i, line := range strings.Split(string(f.Data), "\n") {
			if t := strings.TrimSpace(line); strings.HasPrefix(t, "#") || dryRun.MatchString(line) {
				continue
			}
			for _, re := range []*regexp.Regexp{kubectlWrite, helmWrite} {
				if m := re.FindStringSubmatchIndex(line); m != nil {
					tool := line[m[0] : m[0]+strings.IndexFunc(line[m[0]:], func(r rune) bool { return r == ' ' || r == '\t' })]
					out = append(out, at(pushDeploysMeta, d, i+1, m[0]+1, "%s runs `%s %s` against a cluster: a push-based deploy beside GitOps", ci, tool, line[m[2]:m[3]]))
				}
			}
		}
	}
	return out, err
}
