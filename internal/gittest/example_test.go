package gittest_test

import (
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/converge-dev/converge/internal/gittest"
)

// A repository served over HTTP and SSH, as the package overview sets it
// up in a test. (Compiled, not run: it is a test's body.)
func Example() {
	var clientPublicKey ssh.PublicKey // the test client's key
	test := func(t *testing.T) {
		srv := gittest.NewServer(t)
		repo := srv.NewRepo(t, "deploy")
		repo.Commit(t, "first", map[string]string{"apps/api/kustomization.yaml": "resources: []\n"})
		repo.Tag(t, "v1.0.0", "release 1.0.0") // annotated; "" for lightweight
		url := repo.URL                        // http://127.0.0.1:PORT/deploy.git

		sshd := srv.NewSSHServer(t, clientPublicKey)
		sshURL := sshd.URL("git", "deploy") // ssh://git@127.0.0.1:PORT/deploy.git
		_, _ = url, sshURL
	}
	_ = test
}
