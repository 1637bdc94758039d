// Package clickhousetest runs a real ClickHouse server for tests: Debian's
// clickhouse-server binary (ClickHouse 18.16 on Debian 12), started as the
// current user in a temporary directory with its own configuration, a user
// with a random password, and free ports on 127.0.0.1. It never touches
// the system service or its files.
//
// When the binary is missing, Start fails the test (never skips) with the
// command that installs it: `make clickhouse-server`.
package clickhousetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	chgo "github.com/ClickHouse/clickhouse-go/v2"
)

// User is the name of the server's one user; its password is random per
// server (Server.Password).
const User = "tapline"

// Server is one clickhouse-server process and its directory. Methods are
// not safe for concurrent use.
type Server struct {
	t        testing.TB
	bin      string
	dir      string
	cmd      *exec.Cmd
	exited   chan struct{}
	TCPPort  int
	HTTPPort int
	Password string
}

// Binary returns the path of clickhouse-server, or an error that says how
// to install it.
func Binary() (string, error) {
	if p, err := exec.LookPath("clickhouse-server"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("clickhouse-server not found in PATH, /usr/sbin or /usr/bin: install it with `make clickhouse-server` (Debian: apt-get install clickhouse-server, as root); the server tests never skip")
}

// Start starts a server and waits until it answers over the native
// protocol (at most a minute). The server is killed and its directory
// removed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	pw := make([]byte, 12)
	_, _ = rand.Read(pw)
	s := &Server{t: t, bin: bin, dir: t.TempDir(), Password: "pw-" + hex.EncodeToString(pw)}
	ports, err := freePorts(2)
	if err != nil {
		t.Fatalf("clickhousetest: free ports: %v", err)
	}
	s.TCPPort, s.HTTPPort = ports[0], ports[1]
	if err := s.writeConfig(); err != nil {
		t.Fatalf("clickhousetest: %v", err)
	}
	t.Cleanup(s.Kill)
	s.StartAgain()
	return s
}

// DSN returns the native protocol DSN for database (with the password).
func (s *Server) DSN(database string) string {
	u := url.URL{Scheme: "clickhouse", User: url.UserPassword(User, s.Password), Host: s.Addr(), Path: "/" + database}
	return u.String()
}

// Addr is the native protocol address, 127.0.0.1:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.TCPPort) }

// Dir is the server's directory (config, data, logs).
func (s *Server) Dir() string { return s.dir }

// Kill stops the server at once (SIGKILL to its process group), as a
// crash would, and waits for it to exit. Killing a stopped server does
// nothing.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
}

// StartAgain starts the server on its directory and ports (after Kill, its
// data is still there) and waits until it answers.
func (s *Server) StartAgain() {
	s.t.Helper()
	if s.cmd != nil {
		s.t.Fatal("clickhousetest: server already running")
	}
	out, err := os.OpenFile(filepath.Join(s.dir, "log", "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatalf("clickhousetest: %v", err)
	}
	defer out.Close()
	cmd := exec.Command(s.bin, "--config-file="+filepath.Join(s.dir, "config.xml"))
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("clickhousetest: start %s: %v", s.bin, err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func() { _ = cmd.Wait(); close(s.exited) }()
	if err := s.waitReady(time.Minute); err != nil {
		s.Kill()
		s.t.Fatalf("clickhousetest: server did not come up: %v\n%s", err, s.logTail())
	}
}

func (s *Server) waitReady(limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	conn, err := chgo.Open(&chgo.Options{Addr: []string{s.Addr()}, Auth: chgo.Auth{Username: User, Password: s.Password}, DialTimeout: time.Second})
	if err != nil {
		return err
	}
	defer conn.Close()
	for {
		select {
		case <-s.exited:
			return errors.New("the process exited")
		default:
		}
		err := conn.Ping(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *Server) logTail() string {
	var sb strings.Builder
	for _, f := range []string{"stdout.log", "err.log"} {
		b, _ := os.ReadFile(filepath.Join(s.dir, "log", f))
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		fmt.Fprintf(&sb, "--- %s ---\n%s\n", f, b)
	}
	return sb.String()
}

func (s *Server) writeConfig() error {
	for _, d := range []string{"log", "data", "tmp", "user_files", "format_schemas"} {
		if err := os.MkdirAll(filepath.Join(s.dir, d), 0o755); err != nil {
			return err
		}
	}
	config := fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
  <logger>
    <level>information</level>
    <log>%[1]s/log/server.log</log>
    <errorlog>%[1]s/log/err.log</errorlog>
    <console>0</console>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>%[2]d</tcp_port>
  <http_port>%[3]d</http_port>
  <path>%[1]s/data/</path>
  <tmp_path>%[1]s/tmp/</tmp_path>
  <user_files_path>%[1]s/user_files/</user_files_path>
  <format_schema_path>%[1]s/format_schemas/</format_schema_path>
  <users_config>%[1]s/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <max_concurrent_queries>50</max_concurrent_queries>
  <mlock_executable>false</mlock_executable>
</yandex>
`, s.dir, s.TCPPort, s.HTTPPort)
	users := fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
  <profiles><default><max_threads>2</max_threads></default></profiles>
  <users>
    <%[1]s>
      <password>%[2]s</password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </%[1]s>
  </users>
  <quotas><default></default></quotas>
</yandex>
`, User, s.Password)
	if err := os.WriteFile(filepath.Join(s.dir, "config.xml"), []byte(config), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.dir, "users.xml"), []byte(users), 0o600)
}

// freePorts returns n distinct free TCP ports on 127.0.0.1. They are free
// when checked; a race with another process is possible but rare.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	var out []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on, for
// tests of a server that is down.
func FreePort() (int, error) {
	p, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return p[0], nil
}
