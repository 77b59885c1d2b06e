package registry

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imagegate/imagegate/config"
	fleetsql "github.com/imagegate/imagegate/fleet/sqlstore"
	"github.com/imagegate/imagegate/metadata/sqlstore"
	"github.com/imagegate/imagegate/metadata/sqlstore/sqltest"
)

// TestSQLMetadata: with metadata.driver postgres or mysql, two servers on
// one database keep their records and their shared state there: a push
// through one is listed by the other, accepted, and a lease one takes is
// held for the other.
func TestSQLMetadata(t *testing.T) {
	for _, driver := range sqltest.Drivers {
		t.Run(driver, func(t *testing.T) {
			sc := sqltest.Config(t, driver)
			root := filepath.Join(t.TempDir(), "registry")
			server := func() *testServer {
				return startServer(t, func(c *config.Config) {
					c.Storage.Filesystem.RootDirectory = root
					c.Metadata.Driver = driver
					c.Metadata.SQL.DSN = config.Secret(sc.DSN)
				})
			}
			a, b := server(), server()
			if _, ok := a.Records().(*sqlstore.Store); !ok {
				t.Fatalf("records in %T, want the SQL store", a.Records())
			}
			fs, ok := a.fleet.(*fleetsql.Store)
			if !ok || a.fleetCloser == nil {
				t.Fatalf("shared state in %T (closer %v), want fleet/sqlstore, closed with the server", a.fleet, a.fleetCloser)
			}
			if a.Records().(*sqlstore.Store).DB() != fs.DB() {
				t.Fatal("records and shared state have a pool each, want one per server")
			}
			ds := pushN(t, a, "sql/app", "v1", 2)

			status, _, body := do(t, "GET", b.base+"/api/v1/pushes?repository=sql%2Fapp", nil, nil)
			var page struct {
				Records []struct {
					Digest string `json:"digest"`
					Status string `json:"status"`
				} `json:"records"`
			}
			if err := json.Unmarshal(body, &page); status != 200 || err != nil {
				t.Fatalf("list on the other server: %d %s", status, body)
			}
			if len(page.Records) != 2 || page.Records[0].Digest != ds[1].String() || page.Records[1].Digest != ds[0].String() {
				t.Fatalf("records listed by the other server: %+v, want %v newest first", page.Records, ds)
			}
			for _, r := range page.Records {
				if r.Status != "accepted" {
					t.Errorf("record %s is %s", r.Digest, r.Status)
				}
			}

			status, _, metricsText := do(t, "GET", "http://"+a.DebugAddr().String()+"/metrics", nil, nil)
			if want := `go_sql_max_open_connections{db_name="metadata"} 10`; status != 200 || !strings.Contains(string(metricsText), want) {
				t.Errorf("/metrics lacks %s", want)
			}
			if strings.Contains(string(metricsText), `db_name="fleet"`) {
				t.Error("/metrics shows the one pool twice")
			}

			v, err := a.fleet.Put(t.Context(), "test-leases", "x", []byte("a"), 0, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if it, err := b.fleet.Get(t.Context(), "test-leases", "x"); err != nil || it.Version != v {
				t.Fatalf("the other server reads %+v, %v; want version %d", it, err, v)
			}
		})
	}
}
