// Package liveserver runs the real imagegate binary as a child process for
// end-to-end tests: free loopback ports, a private data directory, captured
// output, a bounded readiness wait and a graceful shutdown at test end.
package liveserver

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Timeouts of the server lifecycle. Variables only so that this package's own
// tests can shorten them.
var (
	readyTimeout = 30 * time.Second       // from exec to GET /readyz == 200
	pollInterval = 100 * time.Millisecond // between readiness probes
	stopTimeout  = 20 * time.Second       // from SIGTERM to process exit
)

// Server is one running imagegate process, owned by the test that started it.
type Server struct {
	Addr      string // registry listen address, "127.0.0.1:PORT"
	URL       string // "http://" + Addr
	DebugAddr string // debug/metrics listen address, "127.0.0.1:PORT"
	DataDir   string // filesystem storage root, inside t.TempDir()
	LogPath   string // file receiving the process's stdout and stderr
	WorkDir   string // the process's working directory, inside t.TempDir()
	// ConfigPath is the YAML file given to `serve --config` (StartWithConfig);
	// empty when the server runs on the built-in defaults.
	ConfigPath string

	bin     string   // the binary
	args    []string // its arguments
	env     []string // its whole environment
	cmd     *exec.Cmd
	exited  chan struct{} // closed once the process has exited
	waitErr error         // cmd.Wait's result; read only after exited is closed
	killed  bool          // Kill ended it on purpose: no exit status expected
}

// Start runs `bin serve` on fresh loopback ports with filesystem storage in a
// new temporary directory, and returns once GET /readyz answers 200. It fails
// the test if the server exits or is not ready within 30s.
//
// The child gets the test's environment without any IMAGEGATE_* variable
// (those configure the tests, and imagegate rejects names it does not know),
// then IMAGEGATE_HTTP_ADDR, IMAGEGATE_DEBUG_ADDR and
// IMAGEGATE_STORAGE_FILESYSTEM_ROOTDIRECTORY, then extraEnv ("KEY=value"
// entries, which win over the ones before). Its working directory is a
// temporary directory, so relative default paths stay inside it.
//
// A t.Cleanup sends SIGTERM and waits (bounded) for the process to exit; a
// server that crashed early, exits non-zero or ignores SIGTERM fails the test.
// When the test has failed, the tail of the server's output is logged.
func Start(t testing.TB, bin string, extraEnv ...string) *Server {
	t.Helper()
	return start(t, bin, "", extraEnv)
}

// start is Start, with `--config configPath` added when configPath is set.
func start(t testing.TB, bin, configPath string, extraEnv []string) *Server {
	t.Helper()
	addrs, err := FreeLoopbackAddrs(2)
	if err != nil {
		t.Fatalf("liveserver: %v", err)
	}
	logDir, workDir := t.TempDir(), t.TempDir()
	s := &Server{
		Addr:      addrs[0],
		URL:       "http://" + addrs[0],
		DebugAddr: addrs[1],
		DataDir:   t.TempDir(),
		LogPath:   filepath.Join(logDir, "imagegate.log"),
		WorkDir:   workDir,

		ConfigPath: configPath,
	}
	s.bin, s.args = bin, []string{"serve"}
	if configPath != "" {
		s.args = append(s.args, "--config", configPath)
	}
	s.env = append(environWithout("IMAGEGATE_"),
		"IMAGEGATE_HTTP_ADDR="+s.Addr,
		"IMAGEGATE_DEBUG_ADDR="+s.DebugAddr,
		"IMAGEGATE_STORAGE_FILESYSTEM_ROOTDIRECTORY="+s.DataDir,
	)
	s.env = append(s.env, extraEnv...)
	if err := s.launch(); err != nil {
		t.Fatalf("liveserver: %v", err)
	}
	t.Cleanup(func() { s.stop(t) })

	if err := s.waitReady(t.Context()); err != nil {
		t.Fatalf("liveserver: %s serve on %s: %v", bin, s.Addr, err)
	}
	return s
}

// launch starts the process (output appended to LogPath) and a goroutine
// that closes s.exited when it ends.
func (s *Server) launch() error {
	logFile, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Dir = s.WorkDir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = s.env
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("start %s serve: %w", s.bin, err)
	}
	exited := make(chan struct{})
	s.cmd, s.exited, s.killed = cmd, exited, false
	go func() {
		s.waitErr = cmd.Wait()
		_ = logFile.Close()
		close(exited)
	}()
	return nil
}

// waitReady polls GET /readyz until it answers 200, the process exits, or
// readyTimeout passes.
func (s *Server) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second}
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()

	var lastErr error
	for {
		if lastErr = probe(ctx, client, s.URL+"/readyz"); lastErr == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("exited before becoming ready: %v", s.waitErr)
		case <-deadline.C:
			return fmt.Errorf("not ready after %v: last probe: %w", readyTimeout, lastErr)
		case <-ctx.Done():
			return fmt.Errorf("waiting for readiness: %w", ctx.Err())
		case <-ticker.C:
		}
	}
}

// probe returns nil when GET url answers 200.
func probe(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return nil
}

// stop ends the process with SIGTERM (SIGKILL after stopTimeout) and reports
// anything but a clean, prompt exit. It logs the output's tail on failure.
func (s *Server) stop(t testing.TB) {
	t.Helper()
	select {
	case <-s.exited:
		if !s.killed && !t.Failed() {
			t.Errorf("liveserver: server exited before the test ended: %v", s.waitErr)
		}
	default:
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("liveserver: send SIGTERM: %v", err)
		}
		timer := time.NewTimer(stopTimeout)
		defer timer.Stop()
		select {
		case <-s.exited:
			if s.waitErr != nil {
				t.Errorf("liveserver: server did not exit cleanly on SIGTERM: %v", s.waitErr)
			}
		case <-timer.C:
			_ = s.cmd.Process.Kill()
			<-s.exited
			t.Errorf("liveserver: server still running %v after SIGTERM; killed it", stopTimeout)
		}
	}
	if t.Failed() {
		t.Logf("liveserver: last lines of %s serve output:\n%s", s.cmd.Path, tail(s.LogPath, 60))
	}
}

// FreeLoopbackAddrs returns n distinct "127.0.0.1:PORT" addresses that were
// free a moment ago. All listeners stay open until every port is chosen, so
// the ports differ; another process could still take one before the server
// binds it, which the readiness wait then reports.
func FreeLoopbackAddrs(n int) ([]string, error) {
	addrs := make([]string, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free loopback port: %w", err)
		}
		defer l.Close()
		addrs = append(addrs, l.Addr().String())
	}
	return addrs, nil
}

// environWithout returns os.Environ() minus the variables whose name starts
// with prefix.
func environWithout(prefix string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			out = append(out, kv)
		}
	}
	return out
}

// tail returns the last n lines of the file at path, or a note saying why it
// cannot.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read output: %v)", err)
	}
	if len(b) == 0 {
		return "(no output)"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d earlier lines)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
