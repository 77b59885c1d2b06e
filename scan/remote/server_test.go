package remote_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/scan/remote"
	"github.com/imagegate/imagegate/scan/remote/remotetest"
	"github.com/imagegate/imagegate/scan/scantest"
)

// waitFor polls cond until it holds, failing t after a minute.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within a minute")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// scannerStatus is GET /v1/status as a test reads it.
type scannerStatus struct {
	Ready   bool
	Error   string
	Pinned  *remote.DBID
	Running int
	Queued  int
}

func status(t *testing.T, url string) scannerStatus {
	t.Helper()
	code, body := do(t, http.MethodGet, url+remote.PathStatus, remotetest.Secret, "", nil)
	if code != http.StatusOK {
		t.Fatalf("status: %d %s", code, body)
	}
	var st scannerStatus
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// do sends one request and returns the status and body.
func do(t *testing.T, method, url, secret, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// TestBadRequests: every malformed or unauthenticated request gets a 4xx
// with an error code, and no scan runs.
func TestBadRequests(t *testing.T) {
	ns := remotetest.Storage(t)
	img := scantest.VulnerableImage(t)
	remotetest.Add(t, ns, "team/app", img)
	fake := &scantest.Fake{}
	url := remotetest.Serve(t, ns, remote.ServerOptions{Scanner: fake, MaxRequestBytes: 64 << 10})
	good := scantest.NewTarget(t, "team/app", img, remotetest.NoOpen(t))
	manifest := base64.StdEncoding.EncodeToString(good.RawManifest)
	config := base64.StdEncoding.EncodeToString(good.RawConfig)
	layers, _ := json.Marshal([]map[string]any{{"digest": good.Layers[0].Digest, "size": good.Layers[0].Size, "mediaType": good.Layers[0].MediaType}})
	body := func(repo string, d digest.Digest, mediaType string) []byte {
		return []byte(`{"repository":"` + repo + `","digest":"` + d.String() + `","mediaType":"` + mediaType +
			`","manifest":"` + manifest + `","config":"` + config + `","layers":` + string(layers) + `}`)
	}
	const jsonType = "application/json"
	for _, tc := range []struct {
		name, method, path, secret, contentType string
		body                                    []byte
		status                                  int
		code                                    string
	}{
		{"no secret", "POST", remote.PathScan, "", jsonType, body("team/app", good.Digest, good.MediaType), 401, "UNAUTHORIZED"},
		{"wrong secret", "POST", remote.PathScan, strings.Repeat("y", 40), jsonType, body("team/app", good.Digest, good.MediaType), 401, "UNAUTHORIZED"},
		{"secret prefix", "POST", remote.PathScan, remotetest.Secret[:20], jsonType, body("team/app", good.Digest, good.MediaType), 401, "UNAUTHORIZED"},
		{"status without secret", "GET", remote.PathStatus, "", "", nil, 401, "UNAUTHORIZED"},
		{"not json", "POST", remote.PathScan, remotetest.Secret, jsonType, []byte("{not json"), 400, "BAD_REQUEST"},
		{"wrong field type", "POST", remote.PathScan, remotetest.Secret, jsonType, []byte(`{"layers":"x"}`), 400, "BAD_REQUEST"},
		{"empty object", "POST", remote.PathScan, remotetest.Secret, jsonType, []byte(`{}`), 400, "INVALID_TARGET"},
		{"content type", "POST", remote.PathScan, remotetest.Secret, "text/plain", body("team/app", good.Digest, good.MediaType), 415, "BAD_REQUEST"},
		{"too large", "POST", remote.PathScan, remotetest.Secret, jsonType, bytes.Repeat([]byte(" "), 65<<10), 413, "TOO_LARGE"},
		{"bad repository", "POST", remote.PathScan, remotetest.Secret, jsonType, body("Team/../App", good.Digest, good.MediaType), 400, "INVALID_TARGET"},
		{"digest mismatch", "POST", remote.PathScan, remotetest.Secret, jsonType, body("team/app", digest.FromString("x"), good.MediaType), 400, "INVALID_TARGET"},
		{"index media type", "POST", remote.PathScan, remotetest.Secret, jsonType, body("team/app", good.Digest, "application/vnd.oci.image.index.v1+json"), 400, "INVALID_TARGET"},
		{"GET scan", "GET", remote.PathScan, remotetest.Secret, "", nil, 405, "METHOD_NOT_ALLOWED"},
		{"unknown path", "GET", "/v2/", remotetest.Secret, "", nil, 404, "NOT_FOUND"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, data := do(t, tc.method, url+tc.path, tc.secret, tc.contentType, tc.body)
			var e struct{ Code, Message string }
			if err := json.Unmarshal(data, &e); err != nil || status != tc.status || e.Code != tc.code || e.Message == "" {
				t.Errorf("%s %s: %d %s, want %d with code %s and a message", tc.method, tc.path, status, data, tc.status, tc.code)
			}
		})
	}
	if fake.Scans() != 0 {
		t.Errorf("bad requests ran %d scans", fake.Scans())
	}
	// The well-formed request passes (so the cases above fail for their own reason).
	if status, data := do(t, "POST", url+remote.PathScan, remotetest.Secret, jsonType, body("team/app", good.Digest, good.MediaType)); status != 200 {
		t.Fatalf("good request: %d %s", status, data)
	}
}

func TestHealthz(t *testing.T) {
	ns := remotetest.Storage(t)
	for _, tc := range []struct {
		fake   *scantest.Fake
		status int
	}{{&scantest.Fake{}, 200}, {&scantest.Fake{NotReady: true}, 503}} {
		url := remotetest.Serve(t, ns, remote.ServerOptions{Scanner: tc.fake})
		if status, body := do(t, "GET", url+remote.PathHealthz, "", "", nil); status != tc.status {
			t.Errorf("healthz of a scanner with NotReady=%v: %d %s, want %d", tc.fake.NotReady, status, body, tc.status)
		}
	}
}
