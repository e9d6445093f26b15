package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/converge-dev/converge/promote"
)

// imageFlags are converge image latest's flags.
type imageFlags struct {
	semver, alphabetical, numerical string
	filter, extract                 string
	exclude                         []string
	dockerConfig                    string
	insecure, digest                bool
}

func newImage(out *output) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Ask a registry which image tag a policy picks",
	}
	var f imageFlags
	latest := &cobra.Command{
		Use:   "latest REPOSITORY (--semver RANGE | --alphabetical asc|desc | --numerical asc|desc) [--filter REGEX [--extract TEMPLATE]] [--digest]",
		Short: "Print the tag an image policy picks from a registry's tags",
		Long: `Latest lists the tags of an OCI repository (ghcr.io/org/app) and prints
the one the policy picks, with Flux ImagePolicy semantics: --semver RANGE
(">=1.0.0 <2.0.0", "^1.4"), or --alphabetical or --numerical with an order;
--filter REGEX keeps the tags it matches and --extract TEMPLATE ("$ts")
orders them by the named groups it makes. --exclude REGEX drops tags before
the policy sees them (cosign signature tags by default); --digest prints
the tag's digest too, as tag@sha256:….

The registry is read anonymously, or with the credentials of a Docker
config JSON file (--docker-config, as in a dockerconfigjson Secret); no
error shows them. --insecure reaches the registry over plain HTTP.

Exit codes: 0 a tag was picked; 1 no tag matches, or the registry failed;
2 bad usage.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runImageLatest(cmd.Context(), out, args[0], f) },
	}
	fl := latest.Flags()
	fl.StringVar(&f.semver, "semver", "", "pick the highest version in this semver range")
	fl.StringVar(&f.alphabetical, "alphabetical", "", "pick the last tag in this alphabetical order: asc or desc")
	fl.StringVar(&f.numerical, "numerical", "", "pick the last tag in this numerical order: asc or desc")
	fl.StringVar(&f.filter, "filter", "", "keep only the tags this regular expression matches")
	fl.StringVar(&f.extract, "extract", "", "with --filter: order by this template of the expression's groups ($ts)")
	fl.StringArrayVar(&f.exclude, "exclude", nil, "drop the tags this regular expression matches (repeatable; replaces the default, cosign signatures)")
	fl.StringVar(&f.dockerConfig, "docker-config", "", "read the registry's credentials from this Docker config JSON file")
	fl.BoolVar(&f.insecure, "insecure", false, "reach the registry over plain HTTP")
	fl.BoolVar(&f.digest, "digest", false, "print the tag's digest too: tag@sha256:…")
	cmd.AddCommand(latest)
	return cmd
}

// imagePolicy builds the policy the flags describe.
func (f imageFlags) policy() (promote.Policy, error) {
	var p promote.Policy
	set := 0
	if f.semver != "" {
		p, set = promote.Policy{Kind: promote.SemVer, Range: f.semver}, set+1
	}
	if f.alphabetical != "" {
		p, set = promote.Policy{Kind: promote.Alphabetical, Order: promote.Order(strings.ToLower(f.alphabetical))}, set+1
	}
	if f.numerical != "" {
		p, set = promote.Policy{Kind: promote.Numerical, Order: promote.Order(strings.ToLower(f.numerical))}, set+1
	}
	if set != 1 {
		return p, usagef("give one of --semver, --alphabetical and --numerical")
	}
	if f.extract != "" && f.filter == "" {
		return p, usagef("--extract needs --filter")
	}
	if f.filter != "" {
		p.Filter = &promote.TagFilter{Pattern: f.filter, Extract: f.extract}
	}
	if err := p.Validate(); err != nil {
		return p, usagef("%s", oneLine(err.Error()))
	}
	return p, nil
}

func runImageLatest(ctx context.Context, out *output, repository string, f imageFlags) error {
	policy, err := f.policy()
	if err != nil {
		return err
	}
	opts := []promote.RepositoryOption{}
	if f.insecure {
		opts = append(opts, promote.WithInsecure())
	}
	if f.exclude != nil {
		opts = append(opts, promote.WithExclusions(f.exclude...))
	}
	if f.dockerConfig != "" {
		data, err := os.ReadFile(f.dockerConfig)
		if err != nil {
			return usagef("--docker-config: %s", rootCause(err))
		}
		opts = append(opts, promote.WithCredentials(promote.Credentials{DockerConfigJSON: data}))
	}
	repo, err := promote.NewImageRepository(repository, opts...)
	if err != nil {
		return usagef("%s", oneLine(err.Error()))
	}
	tags, err := repo.Tags(ctx)
	if err != nil {
		return err
	}
	tag, err := policy.Latest(tags)
	if errors.Is(err, promote.ErrNoMatch) {
		return &exitError{code: ExitFailed, msg: fmt.Sprintf("no tag of %s matches the policy (%d tags read)", repository, len(tags))}
	}
	if err != nil {
		return err
	}
	line := tag
	if f.digest {
		d, err := repo.Digest(ctx, tag)
		if err != nil {
			return err
		}
		line += "@" + d
	}
	return out.write(func(w io.Writer) error { _, err := fmt.Fprintln(w, line); return err })
}
