package outage

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/testutil/liveserver"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/registry"
	"github.com/imagegate/imagegate/registry/registrytest"
)

// dynamo is a DynamoDB Local instance this test stops and starts, keeping
// its tables on disk across restarts.
type dynamo struct {
	t        *testing.T
	dir      string
	port     string
	endpoint string
}

func newDynamo(t *testing.T) *dynamo {
	// The shared instance's presence says we run where DynamoDB Local can.
	liveserver.RequireEnv(t, "IMAGEGATE_TEST_DYNAMODB_ENDPOINT", "DynamoDB Local (make test starts it)")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	d := &dynamo{t: t, dir: t.TempDir(), port: port, endpoint: "http://127.0.0.1:" + port}
	d.start()
	t.Cleanup(d.stop)
	return d
}

func (d *dynamo) script(action string) {
	d.t.Helper()
	cmd := exec.Command("bash", "../../scripts/dynamodb-local.sh", action, d.dir)
	cmd.Env = append(os.Environ(), "DYNAMODB_PORT="+d.port, "DYNAMODB_DBPATH="+filepath.Join(d.dir, "db"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		d.t.Fatalf("dynamodb-local.sh %s: %v\n%s", action, err, out)
	}
}

func (d *dynamo) start() { d.script("start") }
func (d *dynamo) stop()  { d.script("stop") }

// server runs imagegate on DynamoDB with the given fail mode.
func server(t *testing.T, d *dynamo, failMode string) (*registry.Server, string) {
	srv, _ := registrytest.Start(t, func(cfg *config.Config) {
		cfg.Metadata.Driver = "dynamodb"
		cfg.Metadata.DynamoDB.Endpoint = d.endpoint
		cfg.Metadata.DynamoDB.Table = "imagegate-" + failMode
		cfg.Metadata.DynamoDB.CreateTable = true
		cfg.Metadata.DynamoDB.MaxAttempts = 2
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

// TestFailOpenOutage: pushes during a DynamoDB outage succeed, queue their
// records, and once DynamoDB is back every record is there exactly once.
func TestFailOpenOutage(t *testing.T) {
	d := newDynamo(t)
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

// TestFailClosedOutage: during the outage pushes are refused with 503 and
// nothing is tagged; afterwards pushes work and nothing was recorded twice.
func TestFailClosedOutage(t *testing.T) {
	d := newDynamo(t)
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
