package promote_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/converge-dev/converge/promote"
)

func ExamplePublisher_Publish() {
	// A bare repository on the local disk stands in for the Git server;
	// a real host gives an https:// URL and WithPushCredentials.
	remote, cleanup, err := exampleRemote(map[string]string{
		"apps/web/staging/kustomization.yaml": "images:\n  - name: ghcr.io/acme/web # set by converge\n    newTag: \"1.4.0\"\nresources:\n  - ../base\n  - ingress.yaml\n  - service.yaml\n",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cleanup()

	p, err := promote.NewPublisher(remote, promote.Identity{Name: "converge", Email: "bot@converge.dev"},
		promote.WithLocalRemote())
	if err != nil {
		fmt.Println(err)
		return
	}
	change := promote.Change{
		Branch:  "main",
		Message: "promote web 1.5.0 from dev to staging",
		Provenance: promote.Provenance{
			From: "dev", To: "staging",
			Images: []promote.ImageRef{{Name: "ghcr.io/acme/web", Tag: "1.5.0"}},
			Gates:  []promote.GateResult{{Name: "health", Passed: true, Detail: "dev is Synced and Healthy"}},
		},
		// The edit runs on the branch's head, and again on a new head if
		// someone pushes first.
		Edit: promote.SetImage{File: "apps/web/staging", Images: []promote.Image{{Name: "ghcr.io/acme/web", NewTag: "1.5.0"}}},
	}
	pub, err := p.Publish(context.Background(), change)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(pub.Action, pub.Files, "after", pub.Attempts, "attempt")
	fmt.Print(pub.Edit.Diff())

	// What the remote holds, as git shows it, and the provenance read back.
	message, err := exec.Command("git", "-C", remote, "log", "-1", "--format=%B", "main").Output()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(message))
	prov, err := promote.ParseProvenance(string(message))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("read back:", prov.From, "->", prov.To, prov.Images[0].Tag)

	// The same promotion again changes nothing, and commits nothing.
	pub, err = p.Publish(context.Background(), change)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(pub.Action)
	// Output:
	// pushed [apps/web/staging/kustomization.yaml] after 1 attempt
	// --- a/apps/web/staging/kustomization.yaml
	// +++ b/apps/web/staging/kustomization.yaml
	// @@ -1,6 +1,6 @@
	//  images:
	//    - name: ghcr.io/acme/web # set by converge
	// -    newTag: "1.4.0"
	// +    newTag: "1.5.0"
	//  resources:
	//    - ../base
	//    - ingress.yaml
	// promote web 1.5.0 from dev to staging
	//
	// Promoted-From: dev
	// Promoted-To: staging
	// Promoted-Image: ghcr.io/acme/web:1.5.0
	// Promoted-Gate: health passed: dev is Synced and Healthy
	//
	// read back: dev -> staging 1.5.0
	// unchanged
}

// exampleRemote makes a bare repository whose main branch holds files,
// with the git CLI, and returns its path.
func exampleRemote(files map[string]string) (string, func(), error) {
	dir, err := os.MkdirTemp("", "converge-publish")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	remote, work := filepath.Join(dir, "deploy.git"), filepath.Join(dir, "work")
	git := func(args ...string) error {
		cmd := exec.Command("git", args...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=dev", "GIT_AUTHOR_EMAIL=dev@example.com",
			"GIT_COMMITTER_NAME=dev", "GIT_COMMITTER_EMAIL=dev@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %v: %w: %s", args, err, out)
		}
		return nil
	}
	steps := [][]string{{"init", "--quiet", "--bare", "--initial-branch=main", remote}, {"init", "--quiet", "--initial-branch=main", work}}
	for _, s := range steps {
		if err := git(s...); err != nil {
			cleanup()
			return "", nil, err
		}
	}
	for name, content := range files {
		p := filepath.Join(work, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			cleanup()
			return "", nil, err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			cleanup()
			return "", nil, err
		}
	}
	for _, s := range [][]string{{"-C", work, "add", "--all"}, {"-C", work, "commit", "--quiet", "-m", "first"}, {"-C", work, "push", "--quiet", remote, "main"}} {
		if err := git(s...); err != nil {
			cleanup()
			return "", nil, err
		}
	}
	return remote, cleanup, nil
}

// A promotion by pull request pushes its commit to a head branch of its
// own, made from the base branch's head; the base is not touched. A
// second run of the same promotion finds the branch holding it already.
func ExamplePublisher_Publish_headBranch() {
	remote, cleanup, err := exampleRemote(map[string]string{
		"apps/web/prod/kustomization.yaml": "images:\n  - name: ghcr.io/acme/web\n    newTag: \"1.4.0\"\n",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cleanup()

	p, err := promote.NewPublisher("file://"+remote, promote.Identity{Name: "converge", Email: "bot@converge.dev"},
		promote.WithLocalRemote())
	if err != nil {
		fmt.Println(err)
		return
	}
	head, err := promote.PromotionBranch("prod", "web")
	if err != nil {
		fmt.Println(err)
		return
	}
	change := promote.Change{
		Branch:     head,
		Base:       "main",
		Message:    "promote web 1.5.0 to prod",
		Provenance: promote.Provenance{From: "staging", To: "prod", Images: []promote.ImageRef{{Name: "ghcr.io/acme/web", Tag: "1.5.0"}}},
		Edit:       promote.SetImage{File: "apps/web/prod", Images: []promote.Image{{Name: "ghcr.io/acme/web", NewTag: "1.5.0"}}},
	}
	pub, err := p.Publish(context.Background(), change)
	if err != nil {
		fmt.Println(err)
		return
	}
	parent, err := exec.Command("git", "-C", remote, "rev-parse", head+"^").Output()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(pub.Action, "to", pub.Branch, pub.Files)
	fmt.Println("on main's head:", strings.TrimSpace(string(parent)) == pub.Base, "created:", pub.Replaced == "")

	again, err := p.Publish(context.Background(), change)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(again.Action, "at the same commit:", again.Commit == pub.Commit)
	// Output:
	// pushed to converge/promote/prod/web [apps/web/prod/kustomization.yaml]
	// on main's head: true created: true
	// unchanged at the same commit: true
}
