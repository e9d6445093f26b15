package giteatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/converge-dev/converge/internal/daemon"
)

// Server is a running Gitea.
type Server struct {
	// URL is the server's root, "http://127.0.0.1:PORT" (no trailing
	// slash); the API is under URL + "/api/v1".
	URL string
	// User and Password are the admin user's.
	User, Password string
	// Token is an access token of User with every scope.
	Token string

	dir  string // the server's folder (app.ini, data, repositories)
	proc *daemon.Process
}

// Start starts a server for t and stops it when t ends. It fails t when
// the server cannot be built or started.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := StartServer()
	if err != nil {
		t.Fatalf("giteatest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("giteatest: stop: %v", err)
		}
	})
	return s
}

// StartServer starts a server; the caller stops it. On error nothing is
// left running.
func StartServer() (*Server, error) {
	bin, static, err := Binary()
	if err != nil {
		return nil, err
	}
	// A free port can be taken between choosing it and gitea binding it;
	// try a few times, each in a new folder.
	for attempt := 1; ; attempt++ {
		s, err := start(bin, static)
		if err == nil || attempt == 3 {
			return s, err
		}
	}
}

func start(bin, static string) (*Server, error) {
	dir, err := os.MkdirTemp("", "converge-gitea-")
	if err != nil {
		return nil, err
	}
	for _, sub := range []string{"home", "tmp", "custom", "data", "repos", "log"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, errors.Join(err, os.RemoveAll(dir))
		}
	}
	s := &Server{User: "converge", Password: "pw-" + random(12), dir: dir}
	port, err := daemon.FreePort()
	if err == nil {
		err = s.writeConfig(static, port)
	}
	if err == nil {
		err = s.prepare(bin)
	}
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	// The daemon owns dir from here: its Stop, or its watchdog when the
	// test binary dies, removes it.
	if s.proc, err = daemon.Start("gitea", dir, s.command(context.Background(), bin, "web")); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.proc.WaitHTTP(ctx, s.URL+"/api/healthz"); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

// appINI is the server's configuration: SQLite, loopback, in-memory
// queues, caches and sessions, no mailer, SSH, LFS, indexers, cron jobs,
// actions or packages.
var appINI = template.Must(template.New("app.ini").Parse(`APP_NAME = converge test forge
RUN_MODE = prod
RUN_USER = {{.RunUser}}
WORK_PATH = {{.Dir}}
I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true

[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = {{.Port}}
DOMAIN = 127.0.0.1
ROOT_URL = http://127.0.0.1:{{.Port}}/
LOCAL_ROOT_URL = http://127.0.0.1:{{.Port}}/
STATIC_ROOT_PATH = {{.Static}}
APP_DATA_PATH = {{.Dir}}/data
DISABLE_SSH = true
START_SSH_SERVER = false
LFS_START_SERVER = false
OFFLINE_MODE = true

[database]
DB_TYPE = sqlite3
PATH = {{.Dir}}/data/gitea.db

[repository]
ROOT = {{.Dir}}/repos
DEFAULT_BRANCH = main

[repository.signing]
SIGNING_KEY = none

[security]
INSTALL_LOCK = true
SECRET_KEY = {{.Secret}}
INTERNAL_TOKEN = {{.InternalToken}}

[oauth2]
ENABLED = false

[mailer]
ENABLED = false

[service]
DISABLE_REGISTRATION = true
REQUIRE_SIGNIN_VIEW = false
DEFAULT_ALLOW_CREATE_ORGANIZATION = true
ENABLE_NOTIFY_MAIL = false

[indexer]
ISSUE_INDEXER_TYPE = db
REPO_INDEXER_ENABLED = false

[queue]
TYPE = channel

[session]
PROVIDER = memory

[cache]
ADAPTER = memory

[picture]
DISABLE_GRAVATAR = true
ENABLE_FEDERATED_AVATAR = false

[cron]
ENABLED = false

[cron.update_checker]
ENABLED = false

[actions]
ENABLED = false

[packages]
ENABLED = false

[log]
MODE = console
LEVEL = Warn
ROOT_PATH = {{.Dir}}/log
`))

// writeConfig writes app.ini for port.
func (s *Server) writeConfig(static string, port int) error {
	s.URL = "http://127.0.0.1:" + strconv.Itoa(port)
	u, err := user.Current()
	if err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(s.dir, "app.ini"))
	if err != nil {
		return err
	}
	err = appINI.Execute(f, map[string]any{
		"Dir": s.dir, "Port": port, "Static": static, "RunUser": u.Username,
		"Secret": random(32), "InternalToken": random(32),
	})
	return errors.Join(err, f.Close())
}

// command returns a gitea command with the server's configuration and a
// clean environment.
func (s *Server) command(ctx context.Context, bin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, append([]string{"--config", filepath.Join(s.dir, "app.ini"),
		"--work-path", s.dir, "--custom-path", filepath.Join(s.dir, "custom")}, args...)...)
	cmd.Dir = s.dir
	cmd.Env = []string{
		"HOME=" + filepath.Join(s.dir, "home"),
		"TMPDIR=" + filepath.Join(s.dir, "tmp"),
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"GIT_CONFIG_NOSYSTEM=1",
	}
	return cmd
}

// prepare creates the database, the admin user and its token.
func (s *Server) prepare(bin string) error {
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		out, err := s.command(ctx, bin, args...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("gitea %s: %w\n%s", strings.Join(args, " "), err, daemon.Tail(out, 20))
		}
		return string(out), nil
	}
	if _, err := run("migrate"); err != nil {
		return err
	}
	if _, err := run("admin", "user", "create", "--admin", "--username", s.User,
		"--password", s.Password, "--email", s.User+"@converge.invalid",
		"--must-change-password=false"); err != nil {
		return err
	}
	out, err := run("admin", "user", "generate-access-token", "--username", s.User,
		"--token-name", "converge-test", "--scopes", "all", "--raw")
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	s.Token = strings.TrimSpace(lines[len(lines)-1])
	if len(s.Token) != 40 {
		return fmt.Errorf("gitea admin user generate-access-token printed no token:\n%s", out)
	}
	return nil
}

// Stop stops the server (SIGTERM, then SIGKILL after 10 seconds) and
// removes its files. Stop is safe to call more than once.
func (s *Server) Stop() error {
	if s.proc == nil {
		return os.RemoveAll(s.dir)
	}
	return s.proc.Stop()
}

// Log returns the server's log so far, for a failing test to print.
func (s *Server) Log() string {
	if s.proc == nil {
		return ""
	}
	return s.proc.Log()
}

func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Lazy is a server started by the first test that needs it and shared by
// the package's tests, so that pure tests run without one. Call Main from
// TestMain.
type Lazy struct {
	once   sync.Once
	server *Server
	err    error
}

// NewLazy returns a server that starts on first use.
func NewLazy() *Lazy { return &Lazy{} }

// Server starts the server if needed and returns it, failing t when it
// cannot be built or started. Tests must not Stop it.
func (l *Lazy) Server(t testing.TB) *Server {
	t.Helper()
	l.once.Do(func() {
		start := time.Now()
		l.server, l.err = StartServer()
		if l.err == nil {
			fmt.Fprintf(os.Stderr, "giteatest: gitea up in %s\n", time.Since(start).Round(100*time.Millisecond))
		}
	})
	if l.err != nil {
		t.Fatalf("giteatest: %v", l.err)
	}
	return l.server
}

// Main runs the package's tests, stops the server if a test started it,
// and exits.
func (l *Lazy) Main(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if l.server != nil {
		if err := l.server.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "giteatest: stop: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}
