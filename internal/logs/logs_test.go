package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/imagegate/imagegate/internal/reqctx"
)

// lines logs with fn through New(format) and returns each line decoded,
// keys in the order written.
func lines(t *testing.T, format string, fn func(*slog.Logger)) ([]map[string]any, []string) {
	t.Helper()
	var buf bytes.Buffer
	l, err := New(&buf, "debug", format)
	if err != nil {
		t.Fatal(err)
	}
	fn(l)
	var out []map[string]any
	raw := strings.Split(strings.TrimSpace(buf.String()), "\n")
	for _, line := range raw {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out, raw
}

func requestCtx(id string) context.Context {
	return reqctx.With(context.Background(), &reqctx.Info{ID: id})
}

// TestRequestIDFromContext: a line logged in a request carries its id,
// right after the message, once even when the caller adds one too; a line
// outside a request has none.
func TestRequestIDFromContext(t *testing.T) {
	got, raw := lines(t, "json", func(l *slog.Logger) {
		l.InfoContext(requestCtx("req-0001"), "in", "a", 1)
		l.With("component", "x").InfoContext(requestCtx("req-0002"), "again", "request_id", "req-0002")
		l.Info("out")
	})
	if got[0][RequestIDKey] != "req-0001" || got[1][RequestIDKey] != "req-0002" {
		t.Errorf("request ids %v, %v", got[0][RequestIDKey], got[1][RequestIDKey])
	}
	if n := strings.Count(raw[1], `"request_id"`); n != 1 {
		t.Errorf("request_id written %d times: %s", n, raw[1])
	}
	if !strings.Contains(raw[0], `"msg":"in","request_id":"req-0001"`) {
		t.Errorf("request_id is not first after the message: %s", raw[0])
	}
	if _, ok := got[2][RequestIDKey]; ok {
		t.Errorf("a line outside a request has a request id: %v", got[2])
	}
}

// TestDurationsInMilliseconds: Ms writes a number of milliseconds; a
// time.Duration that escaped it (in a call or in With) is turned into one
// under key_ms, never nanoseconds.
func TestDurationsInMilliseconds(t *testing.T) {
	got, _ := lines(t, "json", func(l *slog.Logger) {
		l.Info("ms", Ms("duration_ms", 1500*time.Microsecond))
		l.Info("raw", "retry_in", 30*time.Second, "took_ms", 2*time.Millisecond)
		l.With("ttl", time.Minute).Info("with")
		l.Info("group", slog.Group("g", "wait", 3*time.Millisecond))
	})
	for i, want := range []map[string]float64{
		{"duration_ms": 1.5},
		{"retry_in_ms": 30000, "took_ms": 2},
		{"ttl_ms": 60000},
	} {
		for k, v := range want {
			if got[i][k] != v {
				t.Errorf("line %d: %s = %v, want %v (%v)", i, k, got[i][k], v, got[i])
			}
		}
	}
	if _, ok := got[1]["retry_in"]; ok {
		t.Errorf("the nanosecond field is still there: %v", got[1])
	}
	if g, _ := got[3]["g"].(map[string]any); g["wait_ms"] != 3.0 {
		t.Errorf("duration in a group: %v", got[3])
	}
}

// TestECSFormat: with format ecs the base fields, the access line's fields
// and error fields have their ECS names, event.duration is nanoseconds,
// ecs.version is set, the level is lower case, and every other field is
// under imagegate.
func TestECSFormat(t *testing.T) {
	got, _ := lines(t, "ecs", func(l *slog.Logger) {
		l.With("component", "http").LogAttrs(requestCtx("req-0003"), slog.LevelWarn, "request",
			slog.String("method", "PUT"), slog.Int("status", 201), slog.String("path", "/v2/a/manifests/v1"),
			slog.Int64("bytes_in", 10), slog.Int64("bytes_out", 0), Ms("duration_ms", 12500*time.Microsecond),
			slog.String("user", "alice"), slog.String("remote_addr", "127.0.0.1:1"), slog.String("user_agent", "crane"),
			slog.String("repository", "a"), slog.String("error", "boom"), slog.String("error_code", "DENIED"))
	})
	line := got[0]
	for k, want := range map[string]any{
		"message": "request", "log.level": "warn", "log.logger": "http", "ecs.version": ecsVersion,
		"http.request.id": "req-0003", "http.request.method": "PUT", "http.response.status_code": 201.0,
		"url.path": "/v2/a/manifests/v1", "http.request.body.bytes": 10.0, "http.response.body.bytes": 0.0,
		"event.duration": 12500000.0, "user.name": "alice", "client.address": "127.0.0.1:1",
		"user_agent.original": "crane", "imagegate.repository": "a", "error.message": "boom", "error.code": "DENIED",
	} {
		if line[k] != want {
			t.Errorf("%s = %v (%T), want %v", k, line[k], line[k], want)
		}
	}
	if _, ok := line["@timestamp"]; !ok {
		t.Errorf("no @timestamp: %v", line)
	}
	for _, plain := range []string{"time", "level", "msg", "request_id", "status", "user", "error", "duration_ms", "repository"} {
		if _, ok := line[plain]; ok {
			t.Errorf("plain field %s left in an ECS line: %v", plain, line)
		}
	}
}

// TestUnknownFormat: New refuses a format it does not know.
func TestUnknownFormat(t *testing.T) {
	if _, err := New(&bytes.Buffer{}, "info", "logfmt"); err == nil {
		t.Fatal("New accepted format logfmt")
	}
}
