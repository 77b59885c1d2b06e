package sqlstore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagegate/imagegate/metadata/sqlstore"
	"github.com/imagegate/imagegate/metadata/sqlstore/sqltest"
)

// forEachDriver runs fn as a subtest per driver whose server is given.
func forEachDriver(t *testing.T, fn func(t *testing.T, driver string)) {
	for _, driver := range sqltest.Drivers {
		t.Run(driver, func(t *testing.T) {
			sqltest.DSN(t, driver)
			fn(t, driver)
		})
	}
}

func migrateCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestMigrateEmptyThenIdempotent: an empty database is brought to the
// latest version; a second run finds nothing to do; the version table
// holds each version once.
func TestMigrateEmptyThenIdempotent(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		cfg := sqltest.Config(t, driver)
		ctx := migrateCtx(t)
		m, err := sqlstore.Migrate(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		latest := latestVersion(t, cfg)
		if m.From != 0 || m.To != latest {
			t.Fatalf("first run: %+v, want 0 → %d", m, latest)
		}
		if m, err = sqlstore.Migrate(ctx, cfg); err != nil || m.From != latest || m.To != latest {
			t.Fatalf("second run: %+v, %v; want nothing to do at %d", m, err, latest)
		}
		if n := versionRows(t, cfg); n != latest {
			t.Fatalf("%d version rows, want %d", n, latest)
		}
	})
}

// TestMigrateConcurrent: replicas starting at once on an empty database
// all succeed; exactly one applies the migrations, under the lock.
func TestMigrateConcurrent(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		cfg := sqltest.Config(t, driver)
		ctx := migrateCtx(t)
		const replicas = 6
		results := make([]sqlstore.Migration, replicas)
		errs := make([]error, replicas)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range replicas {
			wg.Go(func() {
				<-start
				results[i], errs[i] = sqlstore.Migrate(ctx, cfg)
			})
		}
		close(start)
		wg.Wait()
		applied := 0
		for i, err := range errs {
			if err != nil {
				t.Fatalf("replica %d: %v", i, err)
			}
			if results[i].From == 0 {
				applied++
			}
		}
		if applied != 1 {
			t.Fatalf("%d replicas applied the migrations (%+v), want 1", applied, results)
		}
		if n := versionRows(t, cfg); n != latestVersion(t, cfg) {
			t.Fatalf("%d version rows", n)
		}
	})
}

// TestMigrateRefusesNewerSchema: a database migrated by a newer imagegate
// (a version this build does not know) is refused with a message that
// says so, by Migrate and by New; nothing is changed.
func TestMigrateRefusesNewerSchema(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		cfg := sqltest.Config(t, driver)
		ctx := migrateCtx(t)
		db, err := sqlstore.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		future := db.Dialect().LatestVersion() + 7
		if _, err := db.SQL().ExecContext(ctx, db.Dialect().Rebind("INSERT INTO imagegate_schema_version (version) VALUES (?)"), future); err != nil {
			t.Fatal(err)
		}
		db.Close()
		_, err = sqlstore.Migrate(ctx, cfg)
		if !errors.Is(err, sqlstore.ErrSchemaTooNew) || !strings.Contains(err.Error(), "newer than this imagegate knows") {
			t.Fatalf("Migrate: got %v, want ErrSchemaTooNew naming the versions", err)
		}
		if _, err := sqlstore.New(ctx, cfg); !errors.Is(err, sqlstore.ErrSchemaTooNew) {
			t.Fatalf("New: got %v, want ErrSchemaTooNew", err)
		}
		if n := versionRows(t, cfg); n != db.Dialect().LatestVersion()+1 {
			t.Fatalf("%d version rows after a refusal", n)
		}
	})
}

// TestMigrateUnreachable: a server that does not answer fails Open within
// the connect timeout, as unavailable, not a hang.
func TestMigrateUnreachable(t *testing.T) {
	for _, c := range []sqlstore.Config{
		{Driver: sqlstore.Postgres, DSN: "postgres://u@127.0.0.1:1/db?sslmode=disable", ConnectTimeout: 2 * time.Second},
		{Driver: sqlstore.MySQL, DSN: "u:p@tcp(127.0.0.1:1)/db", ConnectTimeout: 2 * time.Second},
	} {
		start := time.Now()
		if _, err := sqlstore.Open(t.Context(), c); err == nil {
			t.Fatalf("%s: Open of a closed port succeeded", c.Driver)
		}
		if took := time.Since(start); took > 30*time.Second {
			t.Fatalf("%s: Open took %v", c.Driver, took)
		}
	}
}

// TestSkipMigrations: with SkipMigrations, Open refuses an unmigrated
// database, saying to run `imagegate metadata migrate`, and changes
// nothing; after Migrate it opens, and a newer schema is refused.
func TestSkipMigrations(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		cfg := sqltest.Config(t, driver)
		cfg.SkipMigrations = true
		ctx := migrateCtx(t)
		if _, err := sqlstore.Open(ctx, cfg); !errors.Is(err, sqlstore.ErrSchemaTooOld) || !strings.Contains(err.Error(), "imagegate metadata migrate") {
			t.Fatalf("Open of an empty database: got %v, want ErrSchemaTooOld", err)
		}
		var tables int
		q := "SELECT COUNT(*) FROM information_schema.tables WHERE table_name LIKE 'imagegate%' AND table_schema = current_schema()"
		if driver == sqlstore.MySQL {
			q = "SELECT COUNT(*) FROM information_schema.tables WHERE table_name LIKE 'imagegate%' AND table_schema = DATABASE()"
		}
		if err := sqltest.Raw(t, cfg).QueryRowContext(ctx, q).Scan(&tables); err != nil || tables != 0 {
			t.Fatalf("%d tables after a refused Open (%v), want none", tables, err)
		}
		if m, err := sqlstore.Migrate(ctx, cfg); err != nil || m.To == 0 {
			t.Fatalf("Migrate with SkipMigrations set: %+v, %v", m, err)
		}
		db, err := sqlstore.Open(ctx, cfg)
		if err != nil {
			t.Fatalf("Open after Migrate: %v", err)
		}
		future := db.Dialect().LatestVersion() + 1
		if _, err := db.SQL().ExecContext(ctx, db.Dialect().Rebind("INSERT INTO imagegate_schema_version (version) VALUES (?)"), future); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if _, err := sqlstore.Open(ctx, cfg); !errors.Is(err, sqlstore.ErrSchemaTooNew) {
			t.Fatalf("Open of a newer schema: got %v, want ErrSchemaTooNew", err)
		}
	})
}

// TestMySQLNeedsDatabase: a MySQL DSN without a database is refused with
// a message that says how to name one, before any connection.
func TestMySQLNeedsDatabase(t *testing.T) {
	_, err := sqlstore.Open(t.Context(), sqlstore.Config{Driver: sqlstore.MySQL, DSN: "u:p@tcp(127.0.0.1:1)/"})
	if err == nil || !strings.Contains(err.Error(), "names no database") {
		t.Fatalf("got %v", err)
	}
}

// TestDSNErrorsHidePassword: a DSN the driver cannot parse is refused
// with an error that does not print its password.
func TestDSNErrorsHidePassword(t *testing.T) {
	for _, c := range []sqlstore.Config{
		{Driver: sqlstore.Postgres, DSN: "postgres://u:sup3rsecret@db:notaport/x"},
		{Driver: sqlstore.Postgres, DSN: "host=db password=sup3rsecret port=abc"},
		{Driver: sqlstore.MySQL, DSN: "u:sup3rsecret@tcp(db:3306)/x?timeout=soon"},
		{Driver: sqlstore.MySQL, DSN: "u:sup3rsecret@db:3306/x"},
	} {
		_, err := sqlstore.Open(t.Context(), c)
		if err == nil || strings.Contains(err.Error(), "sup3rsecret") {
			t.Errorf("%s: %v", c.Driver, err)
		}
	}
}

func latestVersion(t *testing.T, cfg sqlstore.Config) int {
	t.Helper()
	db, err := sqlstore.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return db.Dialect().LatestVersion()
}

// versionRows counts the rows of the version table, read without Open
// (which would refuse a newer schema).
func versionRows(t *testing.T, cfg sqlstore.Config) int {
	t.Helper()
	db := sqltest.Raw(t, cfg)
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM imagegate_schema_version").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
