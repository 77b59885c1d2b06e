package registry

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/shim"
)

// uploadStatus reads GET /api/v1/uploads/{id} on s.
func uploadStatus(t *testing.T, s *testServer, id string) (int, shim.Status) {
	t.Helper()
	resp, err := http.Get(s.base + "/api/v1/uploads/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st shim.Status
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, st
}

// uploadEvents reads the event stream of upload id on s to its end.
func uploadEvents(s *testServer, id string) ([]shim.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/api/v1/uploads/"+id+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out []shim.Status
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			var st shim.Status
			if err := json.Unmarshal([]byte(data), &st); err != nil {
				return out, err
			}
			out = append(out, st)
		}
	}
	return out, sc.Err()
}

// TestUploadProgressAcrossReplicas: a tarball upload sent to replica a is
// followed through replica b — status and event stream, to done — and
// its id cannot be reused on b.
func TestUploadProgressAcrossReplicas(t *testing.T) {
	store := fleet.NewMemory(0)
	a := startServer(t, nil, WithFleet(store))
	b := startServer(t, nil, WithFleet(store))
	img, _ := random.Image(64<<10, 2)
	var archive bytes.Buffer
	if err := tarball.Write(name.MustParseReference("example.com/orig:v0"), img, &archive); err != nil {
		t.Fatal(err)
	}
	const id = "fleet-upload-0001"
	pr, pw := io.Pipe()
	answered := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, a.base+"/api/v1/uploads?repository=team/fleet&tag=1", pr)
		req.Header.Set(shim.HeaderUploadID, id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	half := archive.Len() / 2
	if _, err := pw.Write(archive.Bytes()[:half]); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, st := uploadStatus(t, b, id)
		if code == http.StatusOK && st.Stage == shim.StageReceiving && st.BytesReceived > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica b never showed the upload receiving: %d %+v", code, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	req, _ := http.NewRequest(http.MethodPost, b.base+"/upload-image?repository=team/other", strings.NewReader("x"))
	req.Header.Set(shim.HeaderUploadID, id)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("the running upload's id reused on replica b: %v %v, want 400", resp, err)
	}

	type result struct {
		events []shim.Status
		err    error
	}
	streamed := make(chan result, 1)
	go func() {
		evs, err := uploadEvents(b, id)
		streamed <- result{evs, err}
	}()
	if _, err := pw.Write(archive.Bytes()[half:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if code := <-answered; code != http.StatusCreated {
		t.Fatalf("upload through replica a: %d", code)
	}
	if code, st := uploadStatus(t, b, id); code != http.StatusOK || st.Stage != shim.StageDone || len(st.Images) != 1 ||
		st.BytesReceived != int64(archive.Len()) {
		t.Fatalf("status on replica b once a answered: %d %+v", code, st)
	}
	r := <-streamed
	if r.err != nil || len(r.events) == 0 || r.events[len(r.events)-1].Stage != shim.StageDone {
		t.Fatalf("event stream on replica b: %v %+v", r.err, r.events)
	}
}

// startAuthReplicas starts two replicas with auth sharing store, the
// users and the signing key.
func startAuthReplicas(t *testing.T, store fleet.Store) (*testServer, *testServer) {
	htpasswd := writeHtpasswd(t, testUsers)
	key := filepath.Join(t.TempDir(), "signing.pem")
	mutate := func(c *config.Config) {
		c.Auth.Enabled = true
		c.Auth.Htpasswd = htpasswd
		c.Auth.SigningKey = key
		c.Auth.Bindings = []config.AuthBinding{{Subjects: []string{"alice"}, Role: "developer", Repositories: []string{"team/**"}}}
		c.Auth.Lockout.MaxFailures = 3
	}
	return startServer(t, mutate, WithFleet(store)), startServer(t, mutate, WithFleet(store))
}

// TestAuthLockoutAcrossReplicas: failed logins split over two replicas
// lock the user out on both after the limit in total.
func TestAuthLockoutAcrossReplicas(t *testing.T) {
	a, b := startAuthReplicas(t, fleet.NewMemory(0))
	try := func(s *testServer, pw string) int {
		req, _ := http.NewRequest("GET", s.base+"/auth/token?service=imagegate", nil)
		req.SetBasicAuth("alice", pw)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i, s := range []*testServer{a, b, a} {
		if st := try(s, "guess"); st != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, st)
		}
	}
	for i, s := range []*testServer{a, b} {
		if st := try(s, "alice-pw"); st != http.StatusTooManyRequests {
			t.Fatalf("replica %d after 3 failures split over both: %d, want 429", i, st)
		}
	}
}

// TestAuthRefreshAcrossReplicas: a refresh token rotated on one replica
// and presented again on the other is a reuse: refused, and its chain
// revoked on both.
func TestAuthRefreshAcrossReplicas(t *testing.T) {
	a, b := startAuthReplicas(t, fleet.NewMemory(0))
	grant := func(s *testServer, form url.Values) (int, string) {
		form.Set("service", "imagegate")
		form.Set("client_id", "test")
		resp, err := http.PostForm(s.base+"/auth/token", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var ans struct {
			RefreshToken string `json:"refresh_token"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&ans)
		return resp.StatusCode, ans.RefreshToken
	}
	st, first := grant(a, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-pw"}, "access_type": {"offline"}})
	if st != http.StatusOK || first == "" {
		t.Fatalf("login on replica a: %d", st)
	}
	st, second := grant(a, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first}, "access_type": {"offline"}})
	if st != http.StatusOK || second == "" {
		t.Fatalf("rotation on replica a: %d", st)
	}
	if st, _ := grant(b, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first}, "access_type": {"offline"}}); st != http.StatusUnauthorized {
		t.Fatalf("the rotated token on replica b: %d, want 401", st)
	}
	if st, _ := grant(a, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {second}}); st != http.StatusUnauthorized {
		t.Fatalf("the successor on replica a after the reuse on b: %d, want 401 (chain revoked)", st)
	}
}
