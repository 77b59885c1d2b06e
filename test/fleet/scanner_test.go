package fleet

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// Bounds of a scanner process's lifecycle.
const (
	scannerReadyTimeout = time.Minute      // from exec to GET /healthz == 200
	scannerStopTimeout  = 20 * time.Second // from SIGTERM to exit
)

// scanner is one `imagegate scanner` process of a fleet's pool, owned by
// the test that started it. (liveserver runs `imagegate serve` only.)
type scanner struct {
	Addr    string // scan.pool.addr, "127.0.0.1:PORT"
	URL     string // "http://" + Addr, as the replicas' scan.pool.urls name it
	LogPath string // the process's stdout and stderr (JSON log lines)

	bin, configPath string
	env             []string
	cmd             *exec.Cmd
	exited          chan struct{} // closed once the process has exited
	waitErr         error         // cmd.Wait's result; read only after exited is closed
	killed          bool          // kill ended it on purpose: no exit status expected
}

// startScanner runs `bin scanner --config FILE` with configYAML (which
// must listen on addr) and extraEnv added to the test's environment minus
// IMAGEGATE_* variables, and returns once GET /healthz answers 200 (a DB
// is loaded and not behind the pool's pin). A t.Cleanup stops it with
// SIGTERM; an early or unclean exit fails the test.
func startScanner(t testing.TB, bin, addr, configYAML string, extraEnv []string) *scanner {
	t.Helper()
	dir := t.TempDir()
	s := &scanner{Addr: addr, URL: "http://" + addr, LogPath: filepath.Join(dir, "scanner.log"),
		bin: bin, configPath: filepath.Join(dir, "imagegate.yaml")}
	if err := os.WriteFile(s.configPath, []byte(configYAML), 0o600); err != nil {
		t.Fatalf("write scanner config: %v", err)
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IMAGEGATE_") {
			s.env = append(s.env, kv)
		}
	}
	s.env = append(s.env, extraEnv...)
	if err := s.launch(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.stop(t) })
	if err := s.waitHealthy(t.Context()); err != nil {
		t.Fatalf("scanner on %s: %v\n%s", addr, err, s.logTail())
	}
	return s
}

// launch starts the process (output appended to LogPath) and a goroutine
// that closes s.exited when it ends.
func (s *scanner) launch() error {
	logFile, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open scanner log: %w", err)
	}
	cmd := exec.Command(s.bin, "scanner", "--config", s.configPath)
	cmd.Dir = filepath.Dir(s.configPath)
	cmd.Stdout, cmd.Stderr, cmd.Env = logFile, logFile, s.env
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("start %s scanner: %w", s.bin, err)
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

// waitHealthy polls GET /healthz until it answers 200, the process exits
// or scannerReadyTimeout passes.
func (s *scanner) waitHealthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, scannerReadyTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/healthz", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err != nil {
			last = err
		} else {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("GET /healthz: %s", resp.Status)
		}
		select {
		case <-s.exited:
			return fmt.Errorf("exited before becoming healthy: %v", s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("not healthy within %v: %w", scannerReadyTimeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// kill ends the process with SIGKILL, as a crash or an OOM kill would,
// and waits until it has exited.
func (s *scanner) kill(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatalf("SIGKILL scanner %s: %v", s.Addr, err)
	}
	<-s.exited
	s.killed = true
}

// restart runs a killed scanner again with the same command line and
// returns once it is healthy.
func (s *scanner) restart(t testing.TB) {
	t.Helper()
	if !s.killed {
		t.Fatalf("restart of scanner %s, which was not killed", s.Addr)
	}
	if err := s.launch(); err != nil {
		t.Fatal(err)
	}
	if err := s.waitHealthy(t.Context()); err != nil {
		t.Fatalf("scanner on %s after a restart: %v\n%s", s.Addr, err, s.logTail())
	}
}

// stop ends the process with SIGTERM (SIGKILL after scannerStopTimeout)
// and reports anything but a clean, prompt exit.
func (s *scanner) stop(t testing.TB) {
	t.Helper()
	select {
	case <-s.exited:
		if !s.killed && !t.Failed() {
			t.Errorf("scanner %s exited before the test ended: %v\n%s", s.Addr, s.waitErr, s.logTail())
		}
		return
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM scanner %s: %v", s.Addr, err)
	}
	select {
	case <-s.exited:
		if s.waitErr != nil {
			t.Errorf("scanner %s did not exit cleanly on SIGTERM: %v\n%s", s.Addr, s.waitErr, s.logTail())
		}
	case <-time.After(scannerStopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
		t.Errorf("scanner %s still running %v after SIGTERM; killed it", s.Addr, scannerStopTimeout)
	}
}

// pid is the running process's id (for RSS readings).
func (s *scanner) pid() int { return s.cmd.Process.Pid }

// scans returns the scans this scanner answered so far, as logged,
// across restarts.
func (s *scanner) scans(t testing.TB) []logLine {
	t.Helper()
	var out []logLine
	for _, l := range readLog(t, s.LogPath, time.Time{}) {
		if l.Msg == "image scanned" {
			out = append(out, l)
		}
	}
	return out
}

// logTail is the last lines of the scanner's output, for failure messages.
func (s *scanner) logTail() string {
	b, err := os.ReadFile(s.LogPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", s.LogPath, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return "scanner output:\n" + strings.Join(lines, "\n")
}

// freeAddr returns one loopback address that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	addrs, err := liveserver.FreeLoopbackAddrs(1)
	if err != nil {
		t.Fatal(err)
	}
	return addrs[0]
}
