package gittest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHServer serves a [Server]'s repositories over SSH on loopback: a small
// server on golang.org/x/crypto/ssh that runs the real git-upload-pack for
// each fetch, and accepts only the client keys it was given.
type SSHServer struct {
	// Addr is host:port.
	Addr string
	// KnownHosts is a known_hosts line for the server's host key.
	KnownHosts string
	// HostKey is the server's public host key.
	HostKey ssh.PublicKey

	root string
	ln   net.Listener
	wg   sync.WaitGroup
	mode atomic.Int32
}

// SSHMode is how an [SSHServer] answers a fetch.
type SSHMode int32

const (
	// SSHServe runs git upload-pack: a well-behaved server.
	SSHServe SSHMode = iota
	// SSHEndlessListing answers with a reference advertisement that never
	// ends, as a hostile server would, until the client goes away.
	SSHEndlessListing
	// SSHStall accepts the command and then sends nothing until the client
	// goes away.
	SSHStall
)

// SetMode changes how the server answers the next fetches.
func (s *SSHServer) SetMode(m SSHMode) { s.mode.Store(int32(m)) }

// URL returns the ssh:// URL of repository name for user.
func (s *SSHServer) URL(user, name string) string {
	return fmt.Sprintf("ssh://%s@%s/%s.git", user, s.Addr, name)
}

// NewSSHServer serves the repositories of srv to clients holding one of
// authorized, until the test ends.
func (srv *Server) NewSSHServer(t testing.TB, authorized ...ssh.PublicKey) *SSHServer {
	t.Helper()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			for _, k := range authorized {
				if string(k.Marshal()) == string(key.Marshal()) {
					return &ssh.Permissions{}, nil
				}
			}
			return nil, errors.New("unknown key")
		},
	}
	cfg.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &SSHServer{
		Addr:       ln.Addr().String(),
		HostKey:    signer.PublicKey(),
		KnownHosts: knownhosts.Line([]string{knownhosts.Normalize(ln.Addr().String())}, signer.PublicKey()),
		root:       srv.Root,
		ln:         ln,
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(conn, cfg)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *SSHServer) serve(conn net.Conn, cfg *ssh.ServerConfig) {
	defer conn.Close()
	_, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "sessions only")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			return
		}
		go s.session(ch, chReqs)
	}
}

func (s *SSHServer) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		if req.Type != "exec" {
			_ = req.Reply(false, nil)
			continue
		}
		var payload struct{ Command string }
		if err := ssh.Unmarshal(req.Payload, &payload); err != nil {
			_ = req.Reply(false, nil)
			return
		}
		dir, ok := s.repoPath(payload.Command)
		if !ok {
			_ = req.Reply(false, nil)
			return
		}
		_ = req.Reply(true, nil)
		switch SSHMode(s.mode.Load()) {
		case SSHEndlessListing:
			endlessListing(ch)
			return
		case SSHStall:
			_, _ = io.Copy(io.Discard, ch) // until the client closes
			return
		}
		cmd := exec.Command("git", "upload-pack", dir)
		cmd.Env = gitEnv(s.root)
		cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
		// Copy the client's input in a goroutine of our own, as sshd does:
		// cmd.Stdin would make Run wait for the client to close its side
		// even after git has exited.
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return
		}
		go func() {
			_, _ = io.Copy(stdin, ch)
			_ = stdin.Close()
		}()
		status := uint32(0)
		if err := cmd.Run(); err != nil {
			status = 1
		}
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], status)
		_, _ = ch.SendRequest("exit-status", false, b[:])
		_, _ = io.Copy(io.Discard, io.LimitReader(ch, 0))
		return
	}
}

// endlessListing writes reference lines until the client stops reading.
func endlessListing(w io.Writer) {
	first := strings.Repeat("a", 40) + " HEAD\x00multi_ack ofs-delta side-band-64k\n"
	if _, err := fmt.Fprintf(w, "%04x%s", len(first)+4, first); err != nil {
		return
	}
	for i := 0; ; i++ {
		line := fmt.Sprintf("%s refs/heads/b%09d\n", strings.Repeat("b", 40), i)
		if _, err := fmt.Fprintf(w, "%04x%s", len(line)+4, line); err != nil {
			return
		}
	}
}

// repoPath accepts only "git-upload-pack '/NAME.git'" for a repository
// under the root.
func (s *SSHServer) repoPath(command string) (string, bool) {
	rest, ok := strings.CutPrefix(command, "git-upload-pack ")
	if !ok {
		return "", false
	}
	rest = strings.Trim(rest, "'")
	clean := filepath.Clean("/" + rest)
	if strings.Contains(rest, "'") || !strings.HasSuffix(clean, ".git") {
		return "", false
	}
	return filepath.Join(s.root, clean), true
}
