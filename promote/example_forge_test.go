package promote_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"

	"github.com/converge-dev/converge/promote"
)

// ExamplePullRequester_Ensure keeps one pull request per promotion: the
// first run opens it, a second run with the same promotion leaves it as
// it is, and a newer promotion onto the same branch updates it. The forge
// here is a few lines of GitHub's REST API served in-process; a host
// passes https://api.github.com (or its GitHub Enterprise URL) and a
// token, and drops WithForgeInsecure.
func ExamplePullRequester_Ensure() {
	forge := httptest.NewServer(fakeGitHub())
	defer forge.Close()

	gh, err := promote.NewGitHub(forge.URL, "acme/deploy", "ghp_exampletoken", promote.WithForgeInsecure())
	if err != nil {
		log.Fatal(err)
	}
	prs := promote.NewPullRequester(gh)
	ctx := context.Background()

	head, _ := promote.PromotionBranch("staging", "web") // the publisher pushed the commit here
	spec := promote.PullRequestSpec{
		Head: head, Base: "main",
		Title:  "Promote web 1.4.2 to staging",
		Body:   "ghcr.io/acme/web: 1.4.1 → 1.4.2\n",
		Labels: []string{"promotion"},
	}
	for _, title := range []string{spec.Title, spec.Title, "Promote web 1.4.3 to staging"} {
		spec.Title = title
		res, err := prs.Ensure(ctx, spec)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s #%d %q %v\n", res.Action, res.PullRequest.Number, res.PullRequest.Title, res.PullRequest.Labels)
	}
	// Output:
	// opened #1 "Promote web 1.4.2 to staging" [promotion]
	// unchanged #1 "Promote web 1.4.2 to staging" [promotion]
	// updated #1 "Promote web 1.4.3 to staging" [promotion]
}

// fakeGitHub answers the pull request calls Ensure makes, as GitHub
// does, for the repository acme/deploy.
func fakeGitHub() http.Handler {
	type label struct {
		Name string `json:"name"`
	}
	type ref struct {
		Ref  string `json:"ref"`
		SHA  string `json:"sha"`
		Repo struct {
			FullName string `json:"full_name"`
		} `json:"repo"`
	}
	type pull struct {
		Number int     `json:"number"`
		State  string  `json:"state"`
		Title  string  `json:"title"`
		Body   string  `json:"body"`
		Labels []label `json:"labels"`
		Head   ref     `json:"head"`
		Base   ref     `json:"base"`
	}
	var mu sync.Mutex
	var pulls []*pull
	reply := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	byNumber := func(r *http.Request) *pull {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n < 1 || n > len(pulls) {
			return nil
		}
		return pulls[n-1]
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /repos/acme/deploy/pulls", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		open := []*pull{}
		for _, p := range pulls {
			if p.State == "open" && "acme:"+p.Head.Ref == r.URL.Query().Get("head") && p.Base.Ref == r.URL.Query().Get("base") {
				open = append(open, p)
			}
		}
		reply(w, http.StatusOK, open)
	})
	mux.HandleFunc("POST /repos/acme/deploy/pulls", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		var in struct{ Head, Base, Title, Body string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		p := &pull{Number: len(pulls) + 1, State: "open", Title: in.Title, Body: in.Body, Labels: []label{}}
		p.Head.Ref, p.Head.SHA, p.Head.Repo.FullName = in.Head, "6dcb09b5b57875f334f61aebed695e2e4193db5e", "acme/deploy"
		p.Base.Ref, p.Base.Repo.FullName = in.Base, "acme/deploy"
		pulls = append(pulls, p)
		reply(w, http.StatusCreated, p)
	})
	mux.HandleFunc("PATCH /repos/acme/deploy/pulls/{n}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		p := byNumber(r)
		if p == nil {
			reply(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
			return
		}
		_ = json.NewDecoder(r.Body).Decode(p)
		reply(w, http.StatusOK, p)
	})
	mux.HandleFunc("POST /repos/acme/deploy/issues/{n}/labels", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		p := byNumber(r)
		if p == nil {
			reply(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
			return
		}
		var in struct{ Labels []string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		for _, l := range in.Labels {
			p.Labels = append(p.Labels, label{Name: l})
		}
		reply(w, http.StatusOK, p.Labels)
	})
	return mux
}
