// Package gittest runs a real Git server for converge's tests: Debian's
// `git http-backend` behind net/http/cgi on loopback, speaking the smart HTTP
// protocol for fetch and push, with optional basic auth. Repositories,
// commits, branches, tags and force-pushes are made with the git CLI, so
// what go-git reads is what real users' repositories look like.
//
//	srv := gittest.NewServer(t)
//	repo := srv.NewRepo(t, "deploy")
//	repo.Commit(t, "first", map[string]string{"apps/api/kustomization.yaml": "..."})
//	repo.Tag(t, "v1.0.0", "release 1.0.0") // annotated; "" for lightweight
//	url := repo.URL // http://127.0.0.1:PORT/deploy.git
//
// For the SSH transport, [Server.NewSSHServer] serves the same
// repositories over SSH (a small golang.org/x/crypto/ssh server that runs the
// real git upload-pack), with its host key as a known_hosts line:
//
//	sshd := srv.NewSSHServer(t, clientPublicKey)
//	url := sshd.URL("git", "deploy") // ssh://git@127.0.0.1:PORT/deploy.git
//
// [SSHServer.SetMode] turns it hostile (an endless reference listing, or a
// stall). [Repo.AddSubmodule] records submodules with any URL, and
// [Repo.CommitAt] makes commits at chosen dates.
package gittest
