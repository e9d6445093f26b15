// Package giteatest runs a real Gitea forge for converge's tests: Gitea
// v1.26.0, built by hack/gitea/build.sh (about 10 minutes the first time,
// then cached under the user's cache directory) with its SQLite tags, and
// started on a free loopback port in a temporary folder with a database
// of its own, no mailer, no SSH and an admin user with an access token.
//
// Starting one takes several seconds (the database migration, the admin
// user, the web server), so a test package shares one server, started by
// the first test that asks, and each test works in a repository of its
// own:
//
//	var gitea = giteatest.NewLazy()
//
//	func TestMain(m *testing.M) { gitea.Main(m) }
//
//	func TestPullRequest(t *testing.T) {
//		s := gitea.Server(t)
//		repo := s.CreateRepo(t, "deploy") // owned by s.User, with a first commit on main
//		sha := repo.Push(t, "promote/staging", "promote", map[string]string{"app.yaml": "..."})
//		// call s.URL + "/api/v1/..." with s.Token ...
//	}
//
// A test that needs a server of its own (to stop it) calls [Start].
// Every server is stopped by [Server.Stop] (Start registers it with
// t.Cleanup), and also when the test binary dies without calling it: the
// internal/daemon watchdog kills the server and removes its folder.
package giteatest
