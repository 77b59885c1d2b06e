package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/metadata/bolt"
	"github.com/imagegate/imagegate/policy"
)

// TestAllowlistOf: only entries naming a finding are reported, each ID
// once (the first entry, as the policy decides), expired ones marked.
func TestAllowlistOf(t *testing.T) {
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	rule := policy.Rule{Allowlist: []policy.Exception{
		{ID: "CVE-1", Reason: "first", Expires: now.Add(time.Hour)},
		{ID: "CVE-1", Reason: "second"},
		{ID: "CVE-2", Reason: "old", Expires: now},
		{ID: "CVE-3", Reason: "forever"},
		{ID: "CVE-9", Reason: "not found in the image"},
	}}
	findings := []metadata.Finding{{ID: "CVE-1"}, {ID: "CVE-2"}, {ID: "CVE-3"}, {ID: "CVE-4"}}
	got := allowlistOf(rule, findings, now)
	if len(got) != 3 {
		t.Fatalf("got %+v, want CVE-1, CVE-2, CVE-3", got)
	}
	if got[0].ID != "CVE-1" || got[0].Reason != "first" || got[0].Expired || got[0].Expires == nil {
		t.Errorf("CVE-1: %+v, want the first entry, unexpired", got[0])
	}
	if got[1].ID != "CVE-2" || !got[1].Expired {
		t.Errorf("CVE-2: %+v, want expired (it expires at now)", got[1])
	}
	if got[2].ID != "CVE-3" || got[2].Expires != nil || got[2].Expired {
		t.Errorf("CVE-3: %+v, want no expiry", got[2])
	}
}

// person is a caller who may pull only the repositories in pull.
type person struct {
	name string
	pull map[string]bool
}

func (p person) Subject() string              { return p.name }
func (p person) May(repo, action string) bool { return action == "pull" && p.pull[repo] }
func (p person) Admin() bool                  { return false }
func (p person) Complete() bool               { return true }

// TestOwnPushesNeedPull: a non-admin may list their own records across
// repositories, but not those of a repository they may no longer pull,
// and not another user's.
func TestOwnPushesNeedPull(t *testing.T) {
	store, err := bolt.Open(filepath.Join(t.TempDir(), "m.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	at := time.Now().Add(-time.Hour).Truncate(time.Minute)
	for i, repo := range []string{"team/app", "gone/app"} {
		at := at.Add(time.Duration(i) * time.Minute)
		rec := &metadata.Record{ID: idAt(at), Kind: metadata.KindPush, Repository: repo, Status: metadata.StatusAccepted,
			User: metadata.User{Subject: "alice"}, ReceivedAt: at}
		if err := store.Put(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
	}
	a := New(store, Options{}, slog.New(slog.DiscardHandler))
	alice := person{name: "alice", pull: map[string]bool{"team/app": true}}
	get := func(path string) (int, pushesPage) {
		w := httptest.NewRecorder()
		a.ServeAs(w, httptest.NewRequest(http.MethodGet, path, nil), alice)
		var page pushesPage
		_ = json.Unmarshal(w.Body.Bytes(), &page)
		return w.Code, page
	}
	code, page := get("/api/v1/pushes?user=alice")
	if code != http.StatusOK || len(page.Records) != 1 || page.Records[0].Repository != "team/app" {
		t.Errorf("alice's own records: %d %+v, want only team/app's", code, page.Records)
	}
	if code, _ := get("/api/v1/pushes?user=bob"); code != http.StatusForbidden {
		t.Errorf("alice asking for bob's records: %d, want 403", code)
	}
	if code, _ := get("/api/v1/pushes"); code != http.StatusForbidden {
		t.Errorf("alice asking for every record: %d, want 403", code)
	}
}
