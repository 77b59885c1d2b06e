package registry

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagegate/imagegate/config"
)

// syncBuffer is a concurrency-safe log sink for assertions on log lines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns every JSON log line written so far, decoded.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	data := append([]byte(nil), b.buf.Bytes()...)
	b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// testServer is a started Server on loopback ports with its log sink.
type testServer struct {
	*Server
	logs *syncBuffer
	base string // http://host:port
}

// startServer runs a server on free loopback ports with filesystem storage
// in a temporary directory; mutate adjusts the configuration first.
func startServer(t *testing.T, mutate func(*config.Config), opts ...Option) *testServer {
	t.Helper()
	cfg := config.Default()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Debug.Addr = "127.0.0.1:0"
	dir := t.TempDir()
	cfg.Storage.Filesystem.RootDirectory = filepath.Join(dir, "registry")
	cfg.Metadata.Bolt.Path = filepath.Join(dir, "metadata.db")
	cfg.Metadata.Outbox = filepath.Join(dir, "outbox.db")
	cfg.Scan.Policies = nil // scanning has its own tests, with Trivy (test/gate)
	if mutate != nil {
		mutate(cfg)
	}
	logs := &syncBuffer{}
	srv, err := New(context.Background(), cfg, NewLogger(logs, "debug"), opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	scheme := "http"
	if cfg.HTTP.TLS.Certificate != "" {
		scheme = "https"
	}
	return &testServer{Server: srv, logs: logs, base: scheme + "://" + srv.Addr().String()}
}

// host is the registry's host:port, as image references want it.
func (s *testServer) host() string {
	return strings.TrimPrefix(strings.TrimPrefix(s.base, "http://"), "https://")
}

// do sends one request and returns the status, headers and body.
func do(t *testing.T, method, url string, header http.Header, body io.Reader) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, data
}

// ociErrorCodes decodes an OCI error body and returns its codes; it fails
// the test when the body is not one.
func ociErrorCodes(t *testing.T, body []byte) []string {
	t.Helper()
	var env struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &env); err != nil || len(env.Errors) == 0 {
		t.Fatalf("not an OCI error body: %q (%v)", body, err)
	}
	codes := make([]string, len(env.Errors))
	for i, e := range env.Errors {
		if e.Message == "" {
			t.Errorf("error %s has no message", e.Code)
		}
		codes[i] = e.Code
	}
	return codes
}
