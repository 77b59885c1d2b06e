package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/notify"
	"github.com/imagegate/imagegate/scan/scantest"
)

const hookSecret = "webhook-secret-for-tests"

// hookReceiver collects the signed events posted to it.
type hookReceiver struct {
	t      *testing.T
	mu     sync.Mutex
	events []notify.Event
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := notify.Verify([]byte(hookSecret), r.Header, body, time.Now(), notify.DefaultTolerance); err != nil {
		h.t.Errorf("webhook signature: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/cloudevents+json") {
		h.t.Errorf("content type %q", ct)
	}
	var ev notify.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		h.t.Errorf("webhook body: %v", err)
	}
	h.mu.Lock()
	h.events = append(h.events, ev)
	h.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// await returns the first event of type t about repo, waiting up to 10 s.
func (h *hookReceiver) await(t *testing.T, typ notify.Type, repo string) notify.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		h.mu.Lock()
		for _, e := range h.events {
			if e.Type == typ && e.Data.Repository == repo {
				h.mu.Unlock()
				return e
			}
		}
		h.mu.Unlock()
		select {
		case <-deadline:
			t.Fatalf("no %s event for %s", typ, repo)
		case <-tick.C:
		}
	}
}

// TestNotificationsEndToEnd: pushes with go-containerregistry produce
// signed push.accepted and push.rejected events carrying the records.
func TestNotificationsEndToEnd(t *testing.T) {
	hook := &hookReceiver{t: t}
	rcv := httptest.NewServer(hook)
	defer rcv.Close()
	s := startServer(t, func(c *config.Config) {
		c.Validation.MaxLayers = 2
		c.Notifications.Outbox = filepath.Join(t.TempDir(), "notify.db")
		c.Notifications.Backoff = config.NotificationBackoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}
		c.Notifications.Endpoints = []config.NotificationEndpoint{{Name: "ci", URL: rcv.URL, Secret: hookSecret}}
	})

	ok, _ := name.ParseReference(s.host()+"/team/app:1.0", name.Insecure)
	img, _ := random.Image(256, 1)
	if err := remote.Write(ok, img); err != nil {
		t.Fatalf("push: %v", err)
	}
	d, _ := img.Digest()
	ev := hook.await(t, notify.PushAccepted, "team/app")
	if ev.Data.Digest.String() != d.String() || len(ev.Data.Tags) != 1 || ev.Data.Tags[0] != "1.0" ||
		ev.Data.Status != metadata.StatusAccepted || ev.Data.Source != metadata.SourceDockerPush || ev.Data.Size == 0 {
		t.Errorf("accepted event: %+v", ev.Data)
	}
	rec, err := s.Records().Get(t.Context(), ev.Data.RecordID)
	if err != nil || rec.Status != metadata.StatusAccepted || rec.Digest.String() != d.String() {
		t.Fatalf("the event's record %q: %+v, %v", ev.Data.RecordID, rec, err)
	}

	bad, _ := name.ParseReference(s.host()+"/team/fat:1.0", name.Insecure)
	fat, _ := random.Image(64, 3)
	if err := remote.Write(bad, fat); err == nil {
		t.Fatal("a push over validation.maxlayers was accepted")
	}
	rej := hook.await(t, notify.PushRejected, "team/fat")
	if rej.Data.Status != metadata.StatusRejected || !strings.Contains(rej.Data.Reason, "layer") || rej.Data.RecordID == "" {
		t.Errorf("rejected event: %+v", rej.Data)
	}

	status, _, body := do(t, http.MethodDelete, s.base+"/v2/team/app/manifests/"+d.String(), nil, nil)
	if status != http.StatusAccepted {
		t.Fatalf("delete: %d %s", status, body)
	}
	del := hook.await(t, notify.DeleteAccepted, "team/app")
	if del.Data.Kind != metadata.KindDeleteManifest {
		t.Errorf("delete event: %+v", del.Data)
	}

	status, _, body = do(t, http.MethodGet, "http://"+s.DebugAddr().String()+"/metrics", nil, nil)
	if status != http.StatusOK || !strings.Contains(string(body), `imagegate_notifications_deliveries_total{endpoint="ci",outcome="delivered"}`) {
		t.Errorf("metrics lack delivery outcomes (status %d)", status)
	}
	status, _, body = do(t, http.MethodGet, s.base+"/readyz", nil, nil)
	if status != http.StatusOK || !strings.Contains(string(body), "notifications") {
		t.Errorf("readyz: %d %s", status, body)
	}
}

// TestNotificationsScanCompleted: with a scanner, a push emits
// scan.completed (with the scan summary and the push's record id) besides
// push.accepted.
func TestNotificationsScanCompleted(t *testing.T) {
	hook := &hookReceiver{t: t}
	rcv := httptest.NewServer(hook)
	defer rcv.Close()
	cfg := config.Default()
	dir := t.TempDir()
	cfg.HTTP.Addr, cfg.Debug.Addr = "127.0.0.1:0", ""
	cfg.Storage.Filesystem.RootDirectory = filepath.Join(dir, "registry")
	cfg.Metadata.Bolt.Path = filepath.Join(dir, "metadata.db")
	cfg.Metadata.Outbox = filepath.Join(dir, "outbox.db")
	cfg.Notifications.Outbox = filepath.Join(dir, "notify.db")
	cfg.Notifications.Endpoints = []config.NotificationEndpoint{{Name: "sec", URL: rcv.URL, Secret: hookSecret,
		Events: []string{"scan.completed"}}}
	srv, err := New(t.Context(), cfg, NewLogger(io.Discard, "error"), WithScanner(&scantest.Fake{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())

	ref, _ := name.ParseReference(srv.Addr().String()+"/team/scanned:1", name.Insecure)
	img, _ := random.Image(256, 1)
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("push: %v", err)
	}
	ev := hook.await(t, notify.ScanCompleted, "team/scanned")
	if ev.Data.Scan == nil || ev.Data.Scan.Verdict == "" || ev.Data.RecordID == "" || ev.Data.Status != "" {
		t.Errorf("scan.completed data: %+v (scan %+v)", ev.Data, ev.Data.Scan)
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	for _, e := range hook.events {
		if e.Type != notify.ScanCompleted {
			t.Errorf("the endpoint filters scan.completed, got %s", e.Type)
		}
	}
}

// TestNotificationsTarUpload: an image uploaded as a tarball produces the
// same push.accepted event, with source tar-upload.
func TestNotificationsTarUpload(t *testing.T) {
	hook := &hookReceiver{t: t}
	rcv := httptest.NewServer(hook)
	defer rcv.Close()
	s := startServer(t, func(c *config.Config) {
		c.Notifications.Outbox = filepath.Join(t.TempDir(), "notify.db")
		c.Notifications.Endpoints = []config.NotificationEndpoint{{Name: "ci", URL: rcv.URL, Secret: hookSecret}}
	})
	img, _ := random.Image(256, 1)
	tag, _ := name.NewTag("example.com/orig:v0")
	var tarBuf bytes.Buffer
	if err := tarball.Write(tag, img, &tarBuf); err != nil {
		t.Fatal(err)
	}
	status, _, body := do(t, http.MethodPost, s.base+"/upload-image?repository=team/tarred&tag=2", nil, &tarBuf)
	if status != http.StatusCreated {
		t.Fatalf("upload: %d %s", status, body)
	}
	ev := hook.await(t, notify.PushAccepted, "team/tarred")
	d, _ := img.Digest()
	if ev.Data.Source != metadata.SourceTarUpload || ev.Data.Digest.String() != d.String() || len(ev.Data.Tags) != 1 || ev.Data.Tags[0] != "2" {
		t.Errorf("event of a tarball upload: %+v", ev.Data)
	}
}

// TestNotificationsUploadFailed: a tarball upload the server refuses
// emits upload.failed naming the upload and the reason the client got.
func TestNotificationsUploadFailed(t *testing.T) {
	hook := &hookReceiver{t: t}
	rcv := httptest.NewServer(hook)
	defer rcv.Close()
	s := startServer(t, func(c *config.Config) {
		c.Notifications.Outbox = filepath.Join(t.TempDir(), "notify.db")
		c.Notifications.Endpoints = []config.NotificationEndpoint{{Name: "ci", URL: rcv.URL, Secret: hookSecret,
			Events: []string{"upload.failed"}}}
	})
	h := http.Header{}
	h.Set("Imagegate-Upload-Id", "upload-failed-test-1")
	status, _, body := do(t, http.MethodPost, s.base+"/upload-image?repository=team/broken&tag=1", h,
		strings.NewReader("this is not a tarball at all"))
	if status/100 != 4 {
		t.Fatalf("upload of garbage: %d %s", status, body)
	}
	ev := hook.await(t, notify.UploadFailed, "team/broken")
	if ev.Data.UploadID != "upload-failed-test-1" || ev.Data.Reason == "" || ev.Data.Source != metadata.SourceTarUpload ||
		ev.Subject != "team/broken" {
		t.Errorf("upload.failed: subject %q, data %+v", ev.Subject, ev.Data)
	}
}
