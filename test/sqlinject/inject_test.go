package sqlinject

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/metadata/sqlstore"
	"github.com/imagegate/imagegate/metadata/sqlstore/sqltest"
	"github.com/imagegate/imagegate/registry/registrytest"
)

// slow is longer than any answer may take: every sleep payload sleeps 5 s.
const slow = 4 * time.Second

// TestPayloadsClean: no payload looks like database error text, so the
// check on answers cannot be tripped by an answer quoting the payload.
func TestPayloadsClean(t *testing.T) {
	for _, p := range payloads {
		if sqlErrorText.MatchString(p) {
			t.Errorf("payload %.40q matches the error-text pattern", p)
		}
	}
}

// TestInjectionThroughTheAPI: on PostgreSQL and on MariaDB, every payload
// through every parameter of the records API gets a 4xx or an empty
// result, quickly, with no database error text; the table is intact.
func TestInjectionThroughTheAPI(t *testing.T) {
	for _, driver := range sqltest.Drivers {
		t.Run(driver, func(t *testing.T) { injection(t, driver) })
	}
}

func injection(t *testing.T, driver string) {
	store := sqltest.Config(t, driver)
	srv, _ := registrytest.Start(t, func(cfg *config.Config) {
		cfg.Metadata.Driver = driver
		cfg.Metadata.SQL.DSN = config.Secret(store.DSN)
	})
	base := "http://" + srv.Addr().String()
	seeded := seed(t, srv.Addr().String())
	valid := seeded[0]

	requests, reached := 0, 0
	for _, p := range payloads {
		for _, target := range targets(p, valid) {
			requests++
			if check(t, base, target) {
				reached++
			}
		}
	}
	t.Logf("%s: %d requests with %d payloads, %d of them answered by a query (empty)", driver, requests, len(payloads), reached)
	// The user filter takes any printable text: every payload but the
	// NUL one and the over-long one reaches the database through it.
	if reached < len(payloads)-2 {
		t.Errorf("only %d requests reached the database, want at least %d: the test no longer tests the store", reached, len(payloads)-2)
	}

	// The table is intact: the API lists exactly the pushed records, and
	// the database itself holds them and nothing else.
	if got := listIDs(t, base+"/api/v1/pushes?limit=1000"); !slices.Equal(got, ids(seeded)) {
		t.Errorf("after the attempts the API lists %v, want %v", got, ids(seeded))
	}
	assertTable(t, store, len(seeded))
}

// target is one request: list endpoints answer 200 with an empty page at
// most; the others must refuse (4xx).
type target struct {
	path string
	list bool
}

// targets are the requests carrying payload p in each parameter of the
// records API, alone and after a valid value.
func targets(p string, valid *metadata.Record) []target {
	q := func(kv ...string) target {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return target{"/api/v1/pushes?" + v.Encode(), true}
	}
	repo, dg, id := valid.Repository, valid.Digest.String(), valid.ID
	manifest := func(name, digest, tail string) target {
		return target{"/api/v1/repositories/" + name + "/manifests/" + digest + tail, false}
	}
	esc := url.PathEscape(p)
	return []target{
		q("repository", p), q("repository", repo+p),
		q("user", p), q("user", "anonymous"+p),
		q("digest", p), q("digest", dg+p), q("repository", repo, "digest", p),
		q("since", p), q("since", "2026-01-01T00:00:00Z"+p), q("repository", repo, "since", p),
		q("cursor", p), q("cursor", asCursor(p)), q("cursor", asCursor(id+p)), q("repository", repo, "cursor", asCursor(p)),
		q("limit", p), q("limit", "10"+p),
		q("status", "pending", "repository", p), q("status", "pending", "before", p),
		q("status", "pending", "cursor", asCursor(p)), q("status", "pending", "limit", p), q("status", p),
		{"/api/v1/pushes/" + esc, false}, {"/api/v1/pushes/" + url.PathEscape(id+p), false},
		manifest(esc, dg, ""), manifest(repo, esc, ""), manifest(repo+esc, dg, ""),
		manifest(esc, dg, "/vulnerabilities"), manifest(repo, esc, "/vulnerabilities"),
		manifest(esc, dg, "/layers"), manifest(repo, esc, "/layers"),
	}
}

// check sends target and fails the test when the answer is a 5xx, a 2xx
// with records (or any 2xx outside the listings), slow, or quotes a
// database error. It reports whether the answer was a 2xx (the query ran).
func check(t *testing.T, base string, tg target) bool {
	t.Helper()
	start := time.Now()
	resp, err := http.Get(base + tg.path)
	if err != nil {
		t.Fatalf("GET %.120s: %v", tg.path, err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	elapsed := time.Since(start)
	where := fmt.Sprintf("GET %.160s → %d", tg.path, resp.StatusCode)
	switch {
	case resp.StatusCode >= 500:
		t.Errorf("%s: a server error: %.300s", where, body)
	case resp.StatusCode < 400 && !tg.list:
		t.Errorf("%s: accepted, want a 4xx: %.300s", where, body)
	case resp.StatusCode < 400:
		var page struct {
			Records []json.RawMessage `json:"records"`
		}
		if err := json.Unmarshal(body, &page); err != nil || len(page.Records) != 0 {
			t.Errorf("%s: %d records (%v), want none", where, len(page.Records), err)
		}
	}
	if elapsed > slow {
		t.Errorf("%s: took %v: an injected sleep ran?", where, elapsed)
	}
	if m := sqlErrorText.Find(body); m != nil {
		t.Errorf("%s: the answer quotes a database error (%q): %.300s", where, m, body)
	}
	return resp.StatusCode < 300
}

// seed pushes three images and returns their records, newest first.
func seed(t *testing.T, host string) []*metadata.Record {
	t.Helper()
	for i, repo := range []string{"inj/app", "inj/app", "inj/other"} {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := name.ParseReference(fmt.Sprintf("%s/%s:v%d", host, repo, i), name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
	}
	resp, err := http.Get("http://" + host + "/api/v1/pushes?limit=1000")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Records []*metadata.Record `json:"records"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || len(page.Records) != 3 {
		t.Fatalf("seeded records: %d (%v), want 3", len(page.Records), err)
	}
	return page.Records
}

func ids(rs []*metadata.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// listIDs returns the ids of the records a listing answers.
func listIDs(t *testing.T, u string) []string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Records []*metadata.Record `json:"records"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatalf("GET %s: %d, %v", u, resp.StatusCode, err)
	}
	return ids(page.Records)
}

// assertTable reads the records table and the schema version table
// directly: both exist, and the records table holds want rows.
func assertTable(t *testing.T, store sqlstore.Config, want int) {
	t.Helper()
	driverName := "pgx"
	if store.Driver == sqlstore.MySQL {
		driverName = "mysql"
	}
	db, err := sql.Open(driverName, store.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n, versions int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM imagegate_records").Scan(&n); err != nil {
		t.Fatalf("the records table: %v", err)
	}
	if n != want {
		t.Errorf("the records table holds %d rows, want %d", n, want)
	}
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM imagegate_schema_version").Scan(&versions); err != nil || versions == 0 {
		t.Errorf("the schema version table: %d rows, %v", versions, err)
	}
}
