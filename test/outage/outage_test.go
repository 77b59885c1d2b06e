package outage

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/registry"
	"github.com/imagegate/imagegate/registry/registrytest"
)

// database is a metadata database the tests stop in the middle of a run
// and start again, its data kept across restarts.
type database interface {
	// configure points cfg's metadata store at the database; name keeps
	// the tests' tables apart where the server is shared.
	configure(cfg *config.Config, name string)
	start()
	stop()
}

// databases are the stores the outage tests run on: every driver that
// reaches a database over the network.
var databases = []struct {
	driver string
	open   func(t *testing.T) database
}{
	{"dynamodb", newDynamo},
	{"postgres", newPostgres},
	{"mysql", newMariaDB},
}

// server runs imagegate on db with the given fail mode.
func server(t *testing.T, db database, failMode string) (*registry.Server, string) {
	srv, _ := registrytest.Start(t, func(cfg *config.Config) {
		db.configure(cfg, "imagegate-"+failMode)
		cfg.Metadata.FailMode = failMode
		cfg.Metadata.Timeout = 2 * time.Second
	})
	return srv, srv.Addr().String()
}

func push(t *testing.T, host, repo, tag string) (v1.Hash, error) {
	img, _ := random.Image(256, 1)
	ref, _ := name.ParseReference(host+"/"+repo+":"+tag, name.Insecure)
	d, _ := img.Digest()
	return d, remote.Write(ref, img)
}

func readyz(t *testing.T, host string) (int, string) {
	resp, err := http.Get("http://" + host + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Status
}

// records lists every record of repo through the store of a fresh server
// view (the API), newest first.
func records(t *testing.T, host, repo string) []*metadata.Record {
	resp, err := http.Get("http://" + host + "/api/v1/pushes?limit=1000&repository=" + repo)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Records []*metadata.Record `json:"records"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&page) != nil {
		t.Fatalf("list records: %d", resp.StatusCode)
	}
	return page.Records
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		<-tick.C
	}
}

// TestFailOpenOutage: pushes during an outage of the metadata database
// succeed, queue their records, and once the database is back every
// record is there exactly once.
func TestFailOpenOutage(t *testing.T) {
	for _, db := range databases {
		t.Run(db.driver, func(t *testing.T) { failOpenOutage(t, db.open(t)) })
	}
}

func failOpenOutage(t *testing.T, d database) {
	_, host := server(t, d, "open")
	want := map[string]bool{}
	for i := range 3 {
		dg, err := push(t, host, "outage/open", fmt.Sprint("before", i))
		if err != nil {
			t.Fatalf("push before the outage: %v", err)
		}
		want[dg.String()] = true
	}

	d.stop()
	for i := range 3 {
		dg, err := push(t, host, "outage/open", fmt.Sprint("during", i))
		if err != nil {
			t.Fatalf("push during the outage (fail-open): %v", err)
		}
		want[dg.String()] = true
	}
	if code, status := readyz(t, host); code != 200 || status != "degraded" {
		t.Fatalf("readyz during the outage: %d %s, want 200 degraded", code, status)
	}

	d.start()
	waitFor(t, 60*time.Second, "the outbox to drain", func() bool {
		_, status := readyz(t, host)
		return status == "ready"
	})
	got := map[string]int{}
	for _, r := range records(t, host, "outage/open") {
		if r.Status != metadata.StatusAccepted {
			t.Errorf("record %s is %s", r.ID, r.Status)
		}
		got[r.Digest.String()]++
	}
	for dg := range want {
		if got[dg] != 1 {
			t.Errorf("digest %s has %d records, want 1", dg, got[dg])
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d digests recorded, %d pushed", len(got), len(want))
	}
}

// TestFailClosedOutage: during an outage of the metadata database pushes
// are refused with 503 and nothing is tagged; afterwards pushes work and
// nothing was recorded twice.
func TestFailClosedOutage(t *testing.T) {
	for _, db := range databases {
		t.Run(db.driver, func(t *testing.T) { failClosedOutage(t, db.open(t)) })
	}
}

func failClosedOutage(t *testing.T, d database) {
	_, host := server(t, d, "closed")
	if _, err := push(t, host, "outage/closed", "before"); err != nil {
		t.Fatalf("push before the outage: %v", err)
	}
	d.stop()
	_, err := push(t, host, "outage/closed", "during")
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("push during the outage (fail-closed): %v, want 503", err)
	}
	if !strings.Contains(err.Error(), "metadata store unreachable") {
		t.Errorf("the refusal does not say why: %v", err)
	}
	if code, _ := readyz(t, host); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz during the outage: %d, want 503", code)
	}
	d.start()
	ref, _ := name.ParseReference(host+"/outage/closed:during", name.Insecure)
	if _, err := remote.Head(ref); !errors.As(err, &terr) || terr.StatusCode != http.StatusNotFound {
		t.Fatalf("the refused push is tagged: %v", err)
	}
	waitFor(t, 60*time.Second, "readiness", func() bool { code, _ := readyz(t, host); return code == 200 })
	if _, err := push(t, host, "outage/closed", "after"); err != nil {
		t.Fatalf("push after the outage: %v", err)
	}
	rs := records(t, host, "outage/closed")
	if len(rs) != 2 {
		t.Fatalf("%d records, want 2 (before, after)", len(rs))
	}
}
