package registry

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/imagegate/imagegate/config"
	"net/http"
	"strings"
	"testing"
)

func TestHealthAndReadiness(t *testing.T) {
	s := startServer(t, nil)
	status, _, body := do(t, "GET", s.base+"/healthz", nil, nil)
	if status != 200 || !strings.Contains(string(body), "alive") {
		t.Fatalf("healthz: %d %s", status, body)
	}

	var ready struct {
		Status string                 `json:"status"`
		Checks map[string]checkResult `json:"checks"`
	}
	status, _, body = do(t, "GET", s.base+"/readyz", nil, nil)
	if err := json.Unmarshal(body, &ready); err != nil || status != 200 || ready.Checks["storage"].Status != "ok" {
		t.Fatalf("readyz: %d %s (%v)", status, body, err)
	}

	// The public /readyz shows states; the error text only the debug listener
	// (issue 12 finding 8: raw backend errors were shown to anyone).
	s.AddReadinessCheck("metadata", func(context.Context) error { return errors.New("table unreachable at 10.1.2.3") })
	status, _, body = do(t, "GET", s.base+"/readyz", nil, nil)
	ready.Checks = nil
	if err := json.Unmarshal(body, &ready); err != nil || status != http.StatusServiceUnavailable ||
		ready.Checks["metadata"].Status != "failing" || ready.Checks["storage"].Status != "ok" ||
		strings.Contains(string(body), "unreachable") {
		t.Fatalf("public readyz with a failing check: %d %s", status, body)
	}
	status, _, body = do(t, "GET", "http://"+s.DebugAddr().String()+"/readyz", nil, nil)
	ready.Checks = nil
	if err := json.Unmarshal(body, &ready); err != nil || status != http.StatusServiceUnavailable ||
		ready.Checks["metadata"].Error != "table unreachable at 10.1.2.3" {
		t.Fatalf("debug readyz with a failing check: %d %s", status, body)
	}
}

// TestStorageUnreachableIsNotReady: a backend whose Stat fails (other than
// not-found) fails the storage readiness check.
func TestStorageUnreachableIsNotReady(t *testing.T) {
	check := storageCheck(brokenDriver{})
	if err := check(context.Background()); err == nil {
		t.Fatal("a failing storage driver passed the readiness check")
	}
}

func TestMetricsOnDebugListener(t *testing.T) {
	s := startServer(t, nil)
	do(t, "GET", s.base+"/v2/", nil, nil)
	do(t, "GET", s.base+"/v2/a/manifests/missing", nil, nil)

	status, _, body := do(t, "GET", "http://"+s.DebugAddr().String()+"/metrics", nil, nil)
	if status != 200 {
		t.Fatalf("metrics: %d", status)
	}
	for _, want := range []string{
		`imagegate_http_requests_total{method="GET",route="base",status="200"} 1`,
		`imagegate_http_requests_total{method="GET",route="manifest",status="404"} 1`,
		`imagegate_http_request_duration_seconds_count{method="GET",route="base",status="200"} 1`,
		`imagegate_http_response_bytes_total{method="GET",route="manifest",status="404"}`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// The public listener does not expose metrics.
	if status, _, _ := do(t, "GET", s.base+"/metrics", nil, nil); status != http.StatusNotFound {
		t.Errorf("public /metrics answered %d", status)
	}
}

func TestAccessLogAndRequestID(t *testing.T) {
	s := startServer(t, nil)
	_, hdr, _ := do(t, "GET", s.base+"/v2/a/manifests/missing", http.Header{"User-Agent": {"probe/1"}}, nil)
	id := hdr.Get(requestIDHeader)
	if len(id) != 32 {
		t.Fatalf("response request id %q", id)
	}
	_, hdr, _ = do(t, "GET", s.base+"/v2/", http.Header{requestIDHeader: {"client-chosen-id-1"}}, nil)
	if got := hdr.Get(requestIDHeader); got != "client-chosen-id-1" {
		t.Fatalf("a well-formed client request id was replaced by %q", got)
	}
	_, hdr, _ = do(t, "GET", s.base+"/v2/", http.Header{requestIDHeader: {"bad id\" injected"}}, nil)
	if got := hdr.Get(requestIDHeader); got == "bad id\" injected" {
		t.Fatal("a malformed client request id was echoed")
	}

	var access, dist map[string]any
	accessLines := 0
	for _, line := range s.logs.lines(t) {
		if line["request_id"] != id {
			continue
		}
		switch {
		case line["msg"] == "request":
			access = line
			accessLines++
		case line["component"] == "distribution" && line["msg"] == "response completed with error":
			dist = line
		}
	}
	if access == nil || accessLines != 1 {
		t.Fatalf("%d access lines with request_id %s, want 1", accessLines, id)
	}
	for k, want := range map[string]any{"method": "GET", "route": "manifest", "status": float64(404), "user_agent": "probe/1",
		"repository": "a", "error_code": "MANIFEST_UNKNOWN"} {
		if access[k] != want {
			t.Errorf("access line %s = %v, want %v", k, access[k], want)
		}
	}
	for _, k := range []string{"duration_ms", "bytes_out", "remote_addr", "time"} {
		if _, ok := access[k]; !ok {
			t.Errorf("access line lacks %s: %v", k, access)
		}
	}
	// distribution's own line for the 404 carries our request id and sits
	// at debug: an unknown manifest is the client's expected answer.
	if dist == nil || dist["error_code"] != "manifest unknown" || dist["level"] != "DEBUG" {
		t.Errorf("distribution's error line was not folded into the request at debug: %v", dist)
	}
	if dist != nil && dist["http.request.id"] != nil {
		t.Errorf("distribution's line still carries its own request id: %v", dist)
	}
}

func TestSecretNotLogged(t *testing.T) {
	const secret = "this-is-the-upload-secret-0123456789"
	s := startServer(t, func(c *config.Config) { c.HTTP.Secret = secret })
	do(t, "POST", s.base+"/v2/a/blobs/uploads/", nil, nil)
	for _, line := range s.logs.lines(t) {
		b, _ := json.Marshal(line)
		if strings.Contains(string(b), secret) {
			t.Fatalf("secret in log line %s", b)
		}
	}
}
