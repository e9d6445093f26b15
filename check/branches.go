package check

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

var branchLayoutMeta = Meta{
	ID: "layout-branch-per-environment", Title: "One branch per environment",
	Severity: SeverityMedium, Section: SectionLayout,
	Fix: "Keep one branch (main) with a directory per environment; promote by changing the next environment's overlay, not by merging branches",
}

// BranchLayout is the rule layout-branch-per-environment: branches of
// repo (local, and the remote-tracking ones of a clone) named for an
// environment (staging, prod, env/prod, environments/dev and the other
// spellings of [Layout]). Two or more of them are a branch-per-environment
// layout, whose branches diverge and whose state no one directory shows.
// One alone is not: a repository may have a dev branch for other reasons.
func BranchLayout(repo *git.Repository) Rule {
	return NewRule(branchLayoutMeta, func(ctx context.Context, _ *Target) ([]Finding, error) {
		if repo == nil {
			return nil, fmt.Errorf("no repository")
		}
		refs, err := repo.References()
		if err != nil {
			return nil, fmt.Errorf("list branches: %w", err)
		}
		var envs []string
		err = refs.ForEach(func(r *plumbing.Reference) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			var branch string
			switch n := r.Name(); {
			case n.IsBranch():
				branch = n.Short()
			case n.IsRemote():
				_, branch, _ = strings.Cut(n.Short(), "/") // origin/staging → staging
			default:
				return nil
			}
			name := branch
			for _, prefix := range []string{"env/", "envs/", "environment/", "environments/"} {
				name = strings.TrimPrefix(name, prefix)
			}
			if envNames[name] && !slices.Contains(envs, branch) {
				envs = append(envs, branch)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(envs) < 2 {
			return nil, nil
		}
		slices.Sort(envs)
		return []Finding{{Rule: branchLayoutMeta.ID, Severity: branchLayoutMeta.Severity,
			Message: fmt.Sprintf("branch per environment: %s; their states diverge and promotion is a merge", strings.Join(envs, ", "))}}, nil
	})
}
