package logs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// users of the test: alice may push to team/**, bob may only pull there.
var users = map[string]string{"alice": "alice-Secret-1", "bob": "bob-Secret-2"}

// exchange is one request the proxy passed on and the request id answered.
type exchange struct {
	method, path string
	status       int
	requestID    string
}

// recordingProxy forwards to the server and records every exchange, so the
// test knows exactly which requests the client made.
type recordingProxy struct {
	*httptest.Server
	mu   sync.Mutex
	seen []exchange
}

func newRecordingProxy(t *testing.T, target string) *recordingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &recordingProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.seen = append(p.seen, exchange{method: resp.Request.Method, path: resp.Request.URL.Path,
			status: resp.StatusCode, requestID: resp.Header.Get("X-Request-Id")})
		return nil
	}
	p.Server = httptest.NewServer(rp) // the Host header stays the proxy's: token realms point here
	t.Cleanup(p.Close)
	return p
}

// since returns the exchanges recorded after the first n.
func (p *recordingProxy) since(n int) []exchange {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]exchange(nil), p.seen[n:]...)
}

func (p *recordingProxy) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.seen)
}

// logLine is one decoded JSON line of the server's log.
type logLine map[string]any

func (l logLine) str(k string) string { s, _ := l[k].(string); return s }

// readLog returns the server's JSON lines; a line that is not JSON fails.
func readLog(t *testing.T, path string) []logLine {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []logLine
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l logLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		out = append(out, l)
	}
	return out
}

// settledLog returns the server's lines once every exchange's access line
// is in the log (the server writes it after answering, so the client may
// be done first), or after 10s, when checkAccessLines will say which is
// missing.
func settledLog(t *testing.T, path string, exchanges []exchange) []logLine {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		lines := readLog(t, path)
		logged := map[string]bool{}
		for _, l := range lines {
			if l.str("msg") == "request" {
				logged[l.str("request_id")] = true
			}
		}
		missing := 0
		for _, ex := range exchanges {
			if !logged[ex.requestID] {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			return lines
		}
		time.Sleep(20 * time.Millisecond) // polling for the condition above, bounded by deadline
	}
}

// byRequest groups lines by request_id.
func byRequest(lines []logLine) map[string][]logLine {
	out := map[string][]logLine{}
	for _, l := range lines {
		if id := l.str("request_id"); id != "" {
			out[id] = append(out[id], l)
		}
	}
	return out
}

// startServer runs imagegate with auth, debug logging (so distribution's
// own lines are there to check), and a policy that refuses unscanned
// images under team/strict/** (no vulnerability DB is loaded here, so
// those pushes are refused with 429).
func startServer(t *testing.T) *liveserver.Server {
	t.Helper()
	bin := liveserver.RequireBinary(t, "IMAGEGATE_BIN")
	dir := t.TempDir()
	return liveserver.StartWithConfig(t, bin, "log:\n  level: debug\n"+liveserver.TeamAuthYAML(liveserver.WriteHtpasswd(t, users), dir)+`scan:
  skipupdate: true
  policies:
    - repositories: "team/strict/**"
      mode: enforce
      severity: HIGH
      onerror: reject
    - repositories: "**"
      mode: "off"
      severity: HIGH
      onerror: accept
`)
}

// crane runs the crane binary with a private DOCKER_CONFIG; it returns the
// combined output and the error.
type crane struct{ bin, home string }

func newCrane(t *testing.T, addr, user string) crane {
	t.Helper()
	c := crane{bin: liveserver.RequireBinary(t, "CRANE_BIN"), home: t.TempDir()}
	if out, err := c.run(t, users[user], "auth", "login", addr, "-u", user, "--password-stdin"); err != nil {
		t.Fatalf("crane auth login %s: %v\n%s", user, err, out)
	}
	return c
}

func (c crane) run(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, append([]string{"--insecure"}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+c.home, "DOCKER_CONFIG="+filepath.Join(c.home, ".docker"))
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// imageTar writes a random two-layer image as a docker-archive tarball.
func imageTar(t *testing.T) string {
	t.Helper()
	img, err := random.Image(32<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag("src/image:v1")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkAccessLines fails unless every exchange has exactly one access line
// with its request id (answered in X-Request-Id), the fields an operator
// needs, and every line of that request carries the same id; it returns
// the lines by request id.
func checkAccessLines(t *testing.T, exchanges []exchange, lines []logLine) map[string][]logLine {
	t.Helper()
	grouped := byRequest(lines)
	for _, ex := range exchanges {
		if ex.requestID == "" {
			t.Errorf("%s %s: no X-Request-Id in the answer", ex.method, ex.path)
			continue
		}
		var access []logLine
		for _, l := range grouped[ex.requestID] {
			if l.str("msg") == "request" {
				access = append(access, l)
			}
			if _, ok := l["http.request.id"]; ok {
				t.Errorf("%s %s: a line carries distribution's own request id: %v", ex.method, ex.path, l)
			}
		}
		if len(access) != 1 {
			t.Errorf("%s %s (%s): %d access lines, want 1", ex.method, ex.path, ex.requestID, len(access))
			continue
		}
		a := access[0]
		if a.str("method") != ex.method || a.str("path") != ex.path || a["status"] != float64(ex.status) {
			t.Errorf("access line %v does not describe %s %s → %d", a, ex.method, ex.path, ex.status)
		}
		for _, k := range []string{"route", "duration_ms", "bytes_in", "bytes_out"} {
			if _, ok := a[k]; !ok {
				t.Errorf("access line lacks %s: %v", k, a)
			}
		}
		if _, ok := a["duration_ms"].(float64); !ok {
			t.Errorf("duration_ms is not a number: %v", a)
		}
		if strings.HasPrefix(ex.path, "/v2/team/") && a.str("repository") == "" {
			t.Errorf("access line of %s names no repository: %v", ex.path, a)
		}
	}
	return grouped
}

// goDuration matches a time.Duration's text ("1m0s", "250ms").
var goDuration = regexp.MustCompile(`^-?([0-9.]+(ns|us|µs|ms|s|m|h))+$`)

// checkDurations fails when a line logs a duration other than as a
// number in a *_ms field: a Duration's text, or a field named like a
// duration without _ms.
func checkDurations(t *testing.T, lines []logLine) {
	t.Helper()
	durationish := regexp.MustCompile(`(^|_)(duration|took|retry_in|waited|ttl|timeout|age|elapsed|latency)$`)
	for _, l := range lines {
		for k, v := range l {
			s, isString := v.(string)
			switch {
			case strings.HasSuffix(k, "_ms"):
				if _, ok := v.(float64); !ok {
					t.Errorf("%s is not a number: %v", k, l)
				}
			case durationish.MatchString(k):
				t.Errorf("duration field %s not in ms: %v", k, l)
			case isString && goDuration.MatchString(s) && k != "msg":
				t.Errorf("field %s = %q is a duration as text: %v", k, s, l)
			}
		}
	}
}

// TestPushLogs pushes with crane as alice through the recording proxy and
// checks the log of exactly those requests: one access line each, one
// request id per request in every line and in the answer, distribution's
// lines folded into it, no ERROR line, durations in ms.
func TestPushLogs(t *testing.T) {
	srv := startServer(t)
	proxy := newRecordingProxy(t, srv.URL)
	addr := strings.TrimPrefix(proxy.URL, "http://")
	alice := newCrane(t, addr, "alice")
	tar := imageTar(t)
	start, began := proxy.count(), time.Now()
	if out, err := alice.run(t, "", "push", tar, addr+"/team/app:v1"); err != nil {
		t.Fatalf("crane push: %v\n%s", err, out)
	}
	exchanges := proxy.since(start)
	lines := settledLog(t, srv.LogPath, exchanges)
	grouped := checkAccessLines(t, exchanges, lines)
	for _, l := range lines { // whether joined to a request or not
		if at, err := time.Parse(time.RFC3339Nano, l.str("time")); err == nil && !at.Before(began) && l.str("level") == "ERROR" {
			t.Errorf("ERROR line during a normal push: %v", l)
		}
	}

	var expected404, distributionLines, total int
	for _, ex := range exchanges {
		if ex.status == http.StatusNotFound {
			expected404++
		}
		for _, l := range grouped[ex.requestID] {
			total++
			if l.str("level") == "ERROR" {
				t.Errorf("ERROR line in a normal push: %v", l)
			}
			if l.str("component") == "distribution" {
				distributionLines++
				if l.str("level") != "DEBUG" {
					t.Errorf("distribution line above debug in a normal push: %v", l)
				}
			}
		}
	}
	if expected404 == 0 {
		t.Error("crane's push made no HEAD that answered 404: the test no longer covers the expected 404s")
	}
	if distributionLines == 0 {
		t.Error("no distribution line carries a request id of the push: they are not joined to the request")
	}
	info := 0
	for _, ex := range exchanges {
		for _, l := range grouped[ex.requestID] {
			if l.str("level") != "DEBUG" {
				info++
			}
		}
	}
	t.Logf("crane push: %d requests, %d lines with their request ids (%d at info or above, %d of distribution's at debug)",
		len(exchanges), total, info, distributionLines)
	if info > len(exchanges)+2 { // the access lines, plus the token service's audit lines
		t.Errorf("%d lines at info or above for %d requests", info, len(exchanges))
	}
	checkDurations(t, lines)
}

// TestRefusalsLoggedOnce: a push the policy does not allow (bob, a reader:
// 403 DENIED) and a push the gate refuses (its scan cannot run under
// onerror: reject: 429, which crane retries) are each logged by one
// refusal line besides the access line, in the request: "push rejected"
// for the first attempt, "push refused again" for crane's retries, which
// add no record.
func TestRefusalsLoggedOnce(t *testing.T) {
	srv := startServer(t)
	proxy := newRecordingProxy(t, srv.URL)
	addr := strings.TrimPrefix(proxy.URL, "http://")
	tar := imageTar(t)

	bob := newCrane(t, addr, "bob")
	start := proxy.count()
	if out, err := bob.run(t, "", "push", tar, addr+"/team/app:bob"); err == nil {
		t.Fatalf("bob's push succeeded:\n%s", out)
	}
	denied := proxy.since(start)

	alice := newCrane(t, addr, "alice")
	start = proxy.count()
	if out, err := alice.run(t, "", "push", tar, addr+"/team/strict/app:v1"); err == nil {
		t.Fatalf("the push of an unscanned image under an onerror: reject policy succeeded:\n%s", out)
	}
	refused := proxy.since(start)

	all := append(append([]exchange(nil), denied...), refused...)
	lines := settledLog(t, srv.LogPath, all)
	grouped := checkAccessLines(t, all, lines)
	checkRefusals(t, "bob's push", denied, grouped, func(ex exchange) bool { return ex.status == http.StatusForbidden && ex.method == http.MethodPost },
		"auth", "access denied")
	checkRefusals(t, "the refused push", refused, grouped, func(ex exchange) bool { return ex.method == http.MethodPut && strings.Contains(ex.path, "/manifests/") },
		"push", "push rejected", "push refused again, retryable; already recorded")
	checkDurations(t, lines)
}

// checkRefusals fails unless every exchange matching refusal has, besides
// its access line, exactly one line at info or above from component: the
// n-th matching exchange msgs[n], or the last of msgs for every later one.
func checkRefusals(t *testing.T, what string, exchanges []exchange, grouped map[string][]logLine, refusal func(exchange) bool, component string, msgs ...string) {
	t.Helper()
	n := 0
	for _, ex := range exchanges {
		if !refusal(ex) {
			continue
		}
		msg := msgs[min(n, len(msgs)-1)]
		n++
		var others []logLine
		for _, l := range grouped[ex.requestID] {
			if l.str("msg") != "request" && l.str("level") != "DEBUG" {
				others = append(others, l)
			}
		}
		if len(others) != 1 || others[0].str("msg") != msg || others[0].str("component") != component {
			t.Errorf("%s: %s %s (%d) logged %d lines besides the access line, want one %q from %s: %v",
				what, ex.method, ex.path, ex.status, len(others), msg, component, others)
		}
	}
	if n == 0 {
		t.Errorf("%s: no refused request among %v", what, exchanges)
	}
}

// TestClientRequestID: a well-formed X-Request-Id is kept, answered and
// logged; a malformed one is replaced, never logged.
func TestClientRequestID(t *testing.T) {
	srv := startServer(t)
	for _, tc := range []struct {
		sent string
		kept bool
	}{
		{"client-chosen-0001", true},
		{"short", false},
		{"bad id\" injected", false},
		{strings.Repeat("a", 129), false},
	} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/v2/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Request-Id", tc.sent)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		got := resp.Header.Get("X-Request-Id")
		if (got == tc.sent) != tc.kept || got == "" {
			t.Errorf("sent %q, answered %q (kept: %v, want %v)", tc.sent, got, got == tc.sent, tc.kept)
		}
		found := 0
		for _, l := range settledLog(t, srv.LogPath, []exchange{{requestID: got}}) {
			if l.str("msg") == "request" && l.str("request_id") == got {
				found++
			}
			if !tc.kept && strings.Contains(fmt.Sprint(l), tc.sent) {
				t.Errorf("a malformed request id was logged: %v", l)
			}
		}
		if found != 1 {
			t.Errorf("id %q: %d access lines, want 1", got, found)
		}
	}
}
