package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/notify"
	"github.com/imagegate/imagegate/quota"
)

// imageBytes is what an image charges its namespace: manifest, config
// and layers (distinct random images share no blob).
func imageBytes(t *testing.T, img v1.Image) int64 {
	t.Helper()
	raw, _ := img.RawManifest()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	n := int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n
}

// TestQuotaConcurrentPushersAtTheLimit: N pushers of distinct images into
// one namespace whose quota holds about half of them, through two replicas
// sharing one fleet store (each its own storage and metadata). The bytes accepted
// stay within the limit plus one push, the server's counter is exactly
// what the accepted images hold, every refusal is 403 DENIED with the
// numbers, the namespace's crossing of 80 % is one quota.warning event and
// a log line, the tarball door refuses too, and deleting an image gives
// its bytes back.
func TestQuotaConcurrentPushersAtTheLimit(t *testing.T) {
	hook := &hookReceiver{t: t}
	rcv := httptest.NewServer(hook)
	defer rcv.Close()
	const n = 12
	images := make([]v1.Image, n)
	var one int64
	for i := range images {
		images[i], _ = random.Image(16<<10, 2)
		one = max(one, imageBytes(t, images[i]))
	}
	limit := one*n/2 + one/3
	mutate := func(c *config.Config) {
		c.Lifecycle.Quotas = []config.Quota{{Repositories: "**", Scope: "namespace", MaxBytes: limit}}
		c.Notifications.Outbox = filepath.Join(t.TempDir(), "notify.db")
		c.Notifications.Backoff = config.NotificationBackoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}
		c.Notifications.Endpoints = []config.NotificationEndpoint{{Name: "ci", URL: rcv.URL, Secret: hookSecret}}
	}
	shared := fleet.NewMemory(0)
	replicas := []*testServer{startServer(t, mutate, WithFleet(shared)), startServer(t, mutate, WithFleet(shared))}
	s := replicas[0]
	accepted := make([]bool, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var refusals []string
	for i := range images {
		wg.Go(func() {
			ref, _ := name.ParseReference(fmt.Sprintf("%s/team/app%d:v1", replicas[i%2].host(), i), name.Insecure)
			err := remote.Write(ref, images[i])
			var terr *transport.Error
			switch {
			case err == nil:
				accepted[i] = true
			case errors.As(err, &terr) && terr.StatusCode == http.StatusForbidden:
				mu.Lock()
				refusals = append(refusals, err.Error())
				mu.Unlock()
			default:
				t.Errorf("push %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	var stored int64
	count := 0
	for i, ok := range accepted {
		if ok {
			stored += imageBytes(t, images[i])
			count++
		}
	}
	budget, _ := s.quotas.BudgetOf("team/app0")
	used, err := s.quotas.Used(t.Context(), budget)
	if err != nil {
		t.Fatal(err)
	}
	status, _, body := do(t, http.MethodGet, replicas[1].base+"/api/v1/quota?repository=team/anything", nil, nil)
	var u quota.Usage
	if status != http.StatusOK || json.Unmarshal(body, &u) != nil || u.UsedBytes != used || u.LimitBytes != limit || u.Repositories != int64(count) {
		t.Fatalf("GET /api/v1/quota on the other replica: %d %s", status, body)
	}
	t.Logf("limit %d, one push %d: %d of %d pushes accepted, %d bytes stored, counter %d", limit, one, count, n, stored, used)
	if stored > limit+one || used != stored || count == 0 || count == n {
		t.Fatalf("stored %d, counter %d, limit %d (+ one push %d), %d accepted", stored, used, limit, one, count)
	}
	for _, r := range refusals {
		if !strings.Contains(r, "DENIED: quota of team exceeded: ") || !strings.Contains(r, quota.Size(limit)+" limit") ||
			!strings.Contains(r, `"limit":`) && !strings.Contains(r, "limit:") {
			t.Fatalf("refusal without the numbers: %s", r)
		}
	}
	t.Logf("a refusal as go-containerregistry prints it: %s", refusals[0])

	ev := awaitType(t, hook, notify.QuotaWarning)
	if ev.Data.Quota == nil || ev.Data.Quota.Namespace != "team" || ev.Data.Quota.Limit != limit ||
		ev.Data.Quota.Used*100 < limit*80 || ev.Data.Quota.Threshold != 80 {
		t.Fatalf("quota.warning %+v", ev.Data.Quota)
	}
	warned := 0
	for _, r := range replicas {
		for _, l := range r.logs.lines(t) {
			if l["msg"] == "quota warning" && l["namespace"] == "team" {
				warned++
			}
		}
	}
	if warned != 1 {
		t.Fatalf("%d quota warning log lines, want 1", warned)
	}

	var tarBuf bytes.Buffer
	extra, _ := random.Image(16<<10, 2)
	if err := tarball.Write(mustTag(t, "example.com/orig:v0"), extra, &tarBuf); err != nil {
		t.Fatal(err)
	}
	if used+imageBytes(t, extra) <= limit {
		t.Fatalf("the namespace has room left (%d of %d): the test's sizes are off", used, limit)
	}
	status, _, body = do(t, http.MethodPost, s.base+"/upload-image?repository=team/tarred&tag=1", nil, &tarBuf)
	if status != http.StatusForbidden || !strings.Contains(string(body), "quota of team exceeded: ") {
		t.Fatalf("tarball over the quota: %d %s", status, body)
	}

	// A blob upload that cannot fit is refused when it completes.
	status, hdr, body := do(t, http.MethodPost, s.base+"/v2/team/blobs/blobs/uploads/", nil, nil)
	if status != http.StatusAccepted {
		t.Fatalf("open upload: %d %s", status, body)
	}
	big := bytes.Repeat([]byte("q"), int(limit-used)+1)
	loc := hdr.Get("Location")
	if !strings.HasPrefix(loc, "http") {
		loc = s.base + loc
	}
	status, _, body = do(t, http.MethodPut, loc+"&digest="+digest.FromBytes(big).String(),
		http.Header{"Content-Type": {"application/octet-stream"}}, bytes.NewReader(big))
	want := fmt.Sprintf("quota of team exceeded: %s used + %s in this blob > %s limit", quota.Size(used), quota.Size(int64(len(big))), quota.Size(limit))
	if status != http.StatusForbidden || !strings.Contains(string(body), jsonString(t, want)) || !strings.Contains(string(body), fmt.Sprintf(`"used":%d`, used)) {
		t.Fatalf("blob upload past the quota: %d %s\nwant 403 %q", status, body, want)
	}

	for i, ok := range accepted {
		if !ok {
			continue
		}
		d := mustDigest(t, images[i])
		status, _, body := do(t, http.MethodDelete, fmt.Sprintf("%s/v2/team/app%d/manifests/%s", replicas[i%2].base, i, d), nil, nil)
		if status != http.StatusAccepted {
			t.Fatalf("delete: %d %s", status, body)
		}
		after, _ := s.quotas.Used(t.Context(), budget)
		if after != used-imageBytes(t, images[i]) {
			t.Fatalf("after deleting %s: %d, want %d", d, after, used-imageBytes(t, images[i]))
		}
		break
	}
}

// awaitType returns the first event of type typ, waiting up to 10 s.
func awaitType(t *testing.T, h *hookReceiver, typ notify.Type) notify.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		h.mu.Lock()
		for _, e := range h.events {
			if e.Type == typ {
				h.mu.Unlock()
				return e
			}
		}
		h.mu.Unlock()
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("no %s event", typ)
		}
	}
}

// TestQuotaRepositoryCount: with maxrepositories 1, a second repository
// in the namespace is refused with the count; the first takes more images.
func TestQuotaRepositoryCount(t *testing.T) {
	s := startServer(t, func(c *config.Config) {
		c.Lifecycle.Quotas = []config.Quota{{Repositories: "**", Scope: "namespace", MaxRepositories: 1}}
	})
	for _, tag := range []string{"a:v1", "a:v2"} {
		img, _ := random.Image(512, 1)
		if err := remote.Write(mustRef(t, s.host()+"/team/"+tag), img); err != nil {
			t.Fatalf("team/%s: %v", tag, err)
		}
	}
	img, _ := random.Image(512, 1)
	err := remote.Write(mustRef(t, s.host()+"/team/b:v1"), img)
	want := "DENIED: quota of team exceeded: 1 repositories of 1 allowed, and team/b would be one more"
	if statusOf(err) != http.StatusForbidden || !strings.Contains(err.Error(), want) {
		t.Fatalf("second repository: %v\nwant %s", err, want)
	}
	if err := remote.Write(mustRef(t, s.host()+"/other/b:v1"), img); err != nil {
		t.Fatalf("another namespace: %v", err)
	}
	status, _, body := do(t, http.MethodGet, s.base+"/api/v1/quota?repository=team/a", nil, nil)
	var u quota.Usage
	if status != http.StatusOK || json.Unmarshal(body, &u) != nil || u.Budget != "team" || u.Repositories != 1 || u.MaxRepositories != 1 || u.UsedBytes == 0 {
		t.Fatalf("GET /api/v1/quota: %d %s", status, body)
	}
	if status, _, body := do(t, http.MethodGet, s.base+"/api/v1/quota?repository=Bad//name", nil, nil); status != http.StatusBadRequest {
		t.Fatalf("bad repository: %d %s", status, body)
	}
}

// TestQuotaReconcileAdoptsEarlierContent: images pushed before a quota was
// configured are charged by the reconcile (the daily singleton work): the
// counter then equals what they hold, a second run adopts nothing, and
// pushes are refused once the adopted content fills the budget.
func TestQuotaReconcileAdoptsEarlierContent(t *testing.T) {
	root := filepath.Join(t.TempDir(), "registry")
	before := startServer(t, func(c *config.Config) { c.Storage.Filesystem.RootDirectory = root })
	shared, _ := random.Image(8<<10, 1)
	var held int64
	for i := range 3 {
		img, _ := random.Image(8<<10, 1)
		if err := remote.Write(mustRef(t, fmt.Sprintf("%s/team/app%d:v1", before.host(), i)), img); err != nil {
			t.Fatal(err)
		}
		held += imageBytes(t, img)
	}
	if err := remote.Write(mustRef(t, before.host()+"/team/app0:again"), shared); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(mustRef(t, before.host()+"/team/app1:again"), shared); err != nil {
		t.Fatal(err)
	}
	held += imageBytes(t, shared) // the same image in two repositories counts once
	s := startServer(t, func(c *config.Config) {
		c.Storage.Filesystem.RootDirectory = root
		c.Lifecycle.Quotas = []config.Quota{{Repositories: "**", Scope: "namespace", MaxBytes: held}}
		c.Lifecycle.QuotaReconcile = 0 // run by hand below
	})
	if err := s.reconcileQuotas(t.Context()); err != nil {
		t.Fatal(err)
	}
	u, _, err := s.quotas.UsageOf(t.Context(), "team/app0")
	if err != nil || u.UsedBytes != held || u.Repositories != 3 {
		t.Fatalf("after reconcile: %+v (%v), want %d bytes in 3 repositories", u, err, held)
	}
	if err := s.reconcileQuotas(t.Context()); err != nil {
		t.Fatal(err)
	}
	if again, _, _ := s.quotas.UsageOf(t.Context(), "team/app0"); again != u {
		t.Fatalf("a second reconcile changed usage: %+v, want %+v", again, u)
	}
	img, _ := random.Image(1024, 1)
	if err := remote.Write(mustRef(t, s.host()+"/team/new:v1"), img); statusOf(err) != http.StatusForbidden {
		t.Fatalf("push into the full namespace: %v, want 403", err)
	}
}
