package liveserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// fakeEnv selects the behaviour of the test binary when it is re-executed as
// a stand-in for `imagegate serve`.
const fakeEnv = "LIVESERVER_FAKE"

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeEnv); mode != "" {
		os.Exit(fakeServe(mode))
	}
	os.Exit(m.Run())
}

// fakeServe imitates the contract of `imagegate serve` in the given mode:
// "ok" serves /readyz and /env and exits 0 on SIGTERM; "crash" exits 3 at
// once; "never-ready" answers /readyz with 503 forever.
func fakeServe(mode string) int {
	if mode == "crash" {
		fmt.Println(`{"msg":"fake crash"}`)
		return 3
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if mode == "never-ready" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("/args", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, strings.Join(os.Args[1:], "\n"))
	})
	mux.HandleFunc("/env", func(w http.ResponseWriter, _ *http.Request) {
		wd, _ := os.Getwd()
		fmt.Fprintf(w, "WD=%s\n%s", wd, strings.Join(os.Environ(), "\n"))
	})
	srv := &http.Server{Addr: os.Getenv("IMAGEGATE_HTTP_ADDR"), Handler: mux}
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown(context.Background())
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func self(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

func TestStartPassesSettingsAndStops(t *testing.T) {
	t.Setenv("IMAGEGATE_SHOULD_NOT_LEAK", "1")
	s := Start(t, self(t), fakeEnv+"=ok", "EXTRA=yes")

	if want := "http://" + s.Addr; s.URL != want {
		t.Errorf("URL = %q, want %q", s.URL, want)
	}
	if s.Addr == s.DebugAddr {
		t.Errorf("http and debug addresses are both %s", s.Addr)
	}
	resp, err := http.Get(s.URL + "/env")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	env := string(body) + "\n"
	for _, want := range []string{
		"IMAGEGATE_HTTP_ADDR=" + s.Addr,
		"IMAGEGATE_DEBUG_ADDR=" + s.DebugAddr,
		"IMAGEGATE_STORAGE_FILESYSTEM_ROOTDIRECTORY=" + s.DataDir,
		"EXTRA=yes",
	} {
		if !strings.Contains(env, want+"\n") {
			t.Errorf("server environment lacks %q", want)
		}
	}
	if strings.Contains(env, "IMAGEGATE_SHOULD_NOT_LEAK") {
		t.Error("server environment has the test's IMAGEGATE_* variable")
	}
	if strings.HasPrefix(env, "WD="+mustGetwd(t)+"\n") {
		t.Error("server runs in the test's working directory")
	}
}

func TestStartWithConfig(t *testing.T) {
	const yaml = "auth:\n  enabled: true\n"
	s := StartWithConfig(t, self(t), yaml, fakeEnv+"=ok")
	if got := get(t, s.URL+"/args"); got != "serve\n--config\n"+s.ConfigPath {
		t.Errorf("server arguments = %q, want serve --config %s", got, s.ConfigPath)
	}
	b, err := os.ReadFile(s.ConfigPath)
	if err != nil || string(b) != yaml {
		t.Errorf("config file holds %q (err %v), want %q", b, err, yaml)
	}
	if plain := Start(t, self(t), fakeEnv+"=ok"); get(t, plain.URL+"/args") != "serve" || plain.ConfigPath != "" {
		t.Errorf("Start passes a config: args %q, ConfigPath %q", get(t, plain.URL+"/args"), plain.ConfigPath)
	}
}

func TestWriteHtpasswd(t *testing.T) {
	path := WriteHtpasswd(t, map[string]string{"bob": "b-pw", "alice": "a-pw"})
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		t.Fatalf("htpasswd has %d lines, want 2:\n%s", len(lines), b)
	}
	for i, want := range []struct{ name, pw string }{{"alice", "a-pw"}, {"bob", "b-pw"}} {
		name, hash, _ := strings.Cut(lines[i], ":")
		if name != want.name {
			t.Errorf("line %d names %q, want %q (sorted)", i+1, name, want.name)
		}
		if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(want.pw)); err != nil {
			t.Errorf("%s: hash does not match the password: %v", name, err)
		}
	}
}

// get returns the body of GET url, failing the test on any error.
func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestStartFailures(t *testing.T) {
	shorten(t, 2*time.Second)
	for _, tc := range []struct {
		mode, wantFatal string
	}{
		{"crash", "exited before becoming ready"},
		{"never-ready", "not ready after"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			rec := runRecorded(t, func(tb testing.TB) { Start(tb, self(t), fakeEnv+"="+tc.mode) })
			if !strings.Contains(rec.fatal, tc.wantFatal) {
				t.Errorf("Fatalf message = %q, want it to contain %q", rec.fatal, tc.wantFatal)
			}
			if !strings.Contains(strings.Join(rec.logs, "\n"), "last lines of") {
				t.Errorf("output tail not logged; logs: %q", rec.logs)
			}
		})
	}
}

func TestTail(t *testing.T) {
	p := t.TempDir() + "/log"
	if err := os.WriteFile(p, []byte("a\nb\nc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		n    int
		want string
	}{
		{5, "a\nb\nc"},
		{2, "... (1 earlier lines)\nb\nc"},
	} {
		if got := tail(p, tc.n); got != tc.want {
			t.Errorf("tail(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

// shorten lowers the lifecycle timeouts for the duration of the test.
func shorten(t *testing.T, d time.Duration) {
	old := [2]time.Duration{readyTimeout, stopTimeout}
	readyTimeout, stopTimeout = d, d
	t.Cleanup(func() { readyTimeout, stopTimeout = old[0], old[1] })
}

// recorder is a testing.TB that records Fatalf/Errorf/Logf instead of
// failing the real test, and runs its cleanups on demand.
type recorder struct {
	testing.TB
	mu       sync.Mutex
	fatal    string
	errs     []string
	logs     []string
	failed   bool
	cleanups []func()
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatal, r.failed = fmt.Sprintf(format, args...), true
	r.mu.Unlock()
	runtime.Goexit()
}
func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs, r.failed = append(r.errs, fmt.Sprintf(format, args...)), true
}
func (r *recorder) Logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}
func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}
func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

// runRecorded runs fn with a recorder on its own goroutine (so Fatalf can
// Goexit), then runs the recorded cleanups in reverse order.
func runRecorded(t *testing.T, fn func(testing.TB)) *recorder {
	rec := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(rec)
	}()
	<-done
	for i := len(rec.cleanups) - 1; i >= 0; i-- {
		rec.cleanups[i]()
	}
	return rec
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}
