package vault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// Lease is a client token a login returned and how long it lives.
type Lease struct {
	// Token is the client token. It is a secret: never log it.
	Token string
	// TTL is the token's lease duration; 0 for a token that does not
	// expire.
	TTL time.Duration
	// Renewable reports whether Vault would renew the token.
	Renewable bool
}

// Login sends a login request to the Provider's Vault, with its address,
// namespace, HTTP client and size bound: it POSTs body as JSON to
// /v1/auth/<mount>/login and decodes the "auth" block of the answer.
// Errors name the mount, never the body.
type Login func(ctx context.Context, mount string, body any) (Lease, error)

// Auth supplies the token of each request. The Provider calls Token before
// every request; an Auth that logs in caches its token.
//
// Implementations must be safe for concurrent use.
type Auth interface {
	// Token returns the client token to send. login reaches the
	// Provider's Vault for an Auth that logs in.
	Token(ctx context.Context, login Login) (string, error)
}

// Invalidator is an Auth that can drop a token Vault refused. When Vault
// answers 403 the Provider calls Invalidate with the token it sent and
// retries the request once with a fresh Token.
type Invalidator interface {
	// Invalidate forgets token if it is the cached one.
	Invalidate(token string)
}

// AuthFunc adapts a function to an Auth.
type AuthFunc func(ctx context.Context, login Login) (string, error)

// Token calls f.
func (f AuthFunc) Token(ctx context.Context, login Login) (string, error) { return f(ctx, login) }

var _ Auth = AuthFunc(nil)

// TokenAuth sends token with every request (a static token: a root token
// in development, or a periodic token renewed elsewhere).
func TokenAuth(token string) Auth { return staticToken(token) }

type staticToken string

func (t staticToken) Token(context.Context, Login) (string, error) {
	if t == "" {
		return "", errors.New("empty token")
	}
	return string(t), nil
}

// JWTFunc returns a Kubernetes service account token (a JWT) for a login.
type JWTFunc func(ctx context.Context) (string, error)

// DefaultServiceAccountTokenPath is where a Pod's projected service
// account token is mounted.
const DefaultServiceAccountTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// ServiceAccountToken reads the JWT from the file at path (
// DefaultServiceAccountTokenPath when empty) at every login, since the
// kubelet rotates it.
func ServiceAccountToken(path string) JWTFunc {
	if path == "" {
		path = DefaultServiceAccountTokenPath
	}
	return func(context.Context) (string, error) {
		data, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("read service account token: %w", err)
		}
		return strings.TrimSpace(string(data)), nil
	}
}

// KubernetesAuth logs in with Vault's Kubernetes auth method mounted at
// mount ("kubernetes" when empty): it POSTs {"role": role, "jwt": jwt()}
// to /v1/auth/<mount>/login. The client token is cached and shared by
// every request until shortly before its lease ends (a fifth of the lease
// or one minute before, whichever is sooner to the end), and dropped when
// Vault refuses it (403), so the request logs in again and is retried
// once. Concurrent requests wait for one login. The token is never
// renewed: a new login replaces it.
func KubernetesAuth(role string, jwt JWTFunc, mount string) Auth {
	if mount == "" {
		mount = "kubernetes"
	}
	return &kubernetesAuth{role: role, jwt: jwt, mount: strings.Trim(mount, "/"), sem: make(chan struct{}, 1), now: time.Now}
}

type kubernetesAuth struct {
	role  string
	jwt   JWTFunc
	mount string
	now   func() time.Time

	sem     chan struct{} // held during a login
	mu      sync.Mutex
	token   string
	refresh time.Time // log in again from then; zero: never
}

var (
	_ Auth        = (*kubernetesAuth)(nil)
	_ Invalidator = (*kubernetesAuth)(nil)
)

func (k *kubernetesAuth) cached() (string, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.token == "" || (!k.refresh.IsZero() && !k.now().Before(k.refresh)) {
		return "", false
	}
	return k.token, true
}

func (k *kubernetesAuth) Token(ctx context.Context, login Login) (string, error) {
	if t, ok := k.cached(); ok {
		return t, nil
	}
	select {
	case k.sem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-k.sem }()
	// Another caller may have logged in while this one waited.
	if t, ok := k.cached(); ok {
		return t, nil
	}
	if k.jwt == nil {
		return "", errors.New("kubernetes auth: no JWT source")
	}
	jwt, err := k.jwt(ctx)
	if err != nil {
		return "", fmt.Errorf("kubernetes auth: %w", err)
	}
	lease, err := login(ctx, k.mount, map[string]string{"role": k.role, "jwt": jwt})
	if err != nil {
		return "", err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.token = lease.Token
	k.refresh = time.Time{}
	if lease.TTL > 0 {
		margin := min(lease.TTL/5, time.Minute)
		k.refresh = k.now().Add(lease.TTL - margin)
	}
	return lease.Token, nil
}

func (k *kubernetesAuth) Invalidate(token string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.token == token {
		k.token = ""
	}
}
