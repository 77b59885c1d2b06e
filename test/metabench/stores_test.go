package metabench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/metadata/bolt"
	"github.com/imagegate/imagegate/metadata/dynamodb"
	"github.com/imagegate/imagegate/metadata/sqlstore"
	"github.com/imagegate/imagegate/metadata/sqlstore/sqltest"
)

// pool is the SQL stores' pool for the benchmark: 32 connections, kept
// idle, so that 32 concurrent writers each have one (the default pool,
// 10 open and 2 idle, would make them queue and reconnect).
const pool = 32

// benchStore is one store under test.
type benchStore struct {
	name  string
	store metadata.Store
	// filled, when set, is called after the fill and returns the store
	// to measure (bolt: the filled file moved to disk).
	filled func() (metadata.Store, error)
}

// openStores opens every store whose server is configured, each on a
// new, empty table (bolt file, DynamoDB table, SQL schema or database).
// A missing server is logged and left out, or fails the test under
// IMAGEGATE_TEST_REQUIRE_ALL=1.
func openStores(t *testing.T) []benchStore {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stores := []benchStore{openBolt(t)}

	if endpoint := os.Getenv("IMAGEGATE_TEST_DYNAMODB_ENDPOINT"); endpoint != "" {
		d, err := dynamodb.New(ctx, dynamodb.Config{Table: "metabench-" + suffix(), Endpoint: endpoint, CreateTable: true})
		if err != nil {
			t.Fatalf("dynamodb: %v", err)
		}
		t.Cleanup(func() { _ = d.Close() })
		stores = append(stores, benchStore{name: "dynamodb-local", store: d})
	} else {
		missing(t, "IMAGEGATE_TEST_DYNAMODB_ENDPOINT")
	}

	for _, driver := range sqltest.Drivers {
		env := sqltest.EnvPostgres
		if driver == sqlstore.MySQL {
			env = sqltest.EnvMySQL
		}
		if os.Getenv(env) == "" {
			missing(t, env)
			continue
		}
		cfg := sqltest.Config(t, driver)
		cfg.MaxOpenConns, cfg.MaxIdleConns = pool, pool
		s, err := sqlstore.New(ctx, cfg)
		if err != nil {
			t.Fatalf("%s: %v", driver, err)
		}
		t.Cleanup(func() { _ = s.Close() })
		name := "postgresql"
		if driver == sqlstore.MySQL {
			name = "mariadb"
		}
		stores = append(stores, benchStore{name: name, store: s})
	}
	return stores
}

// openBolt opens the bolt store on a tmpfs (/dev/shm) when there is one,
// and moves the file to disk once filled: bolt commits each small batch
// of concurrent writers with an fsync, and filling a million records one
// fsync at a time takes hours. The measurements then run on the disk
// file, fsync included, as in production.
func openBolt(t *testing.T) benchStore {
	fillDir := t.TempDir()
	if shm, err := os.MkdirTemp("/dev/shm", "metabench-"); err == nil {
		fillDir = shm
		t.Cleanup(func() { _ = os.RemoveAll(shm) })
	}
	b, err := bolt.Open(filepath.Join(fillDir, "metadata.db"), time.Second)
	if err != nil {
		t.Fatalf("bolt: %v", err)
	}
	diskPath := filepath.Join(t.TempDir(), "metadata.db")
	var onDisk *bolt.Store
	t.Cleanup(func() {
		_ = b.Close()
		if onDisk != nil {
			_ = onDisk.Close()
		}
	})
	return benchStore{name: "bolt", store: b, filled: func() (metadata.Store, error) {
		if err := b.Close(); err != nil {
			return nil, err
		}
		if err := copyFile(filepath.Join(fillDir, "metadata.db"), diskPath); err != nil {
			return nil, err
		}
		onDisk, err = bolt.Open(diskPath, time.Second)
		return onDisk, err
	}}
}

// copyFile copies src to dst and syncs it.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func missing(t *testing.T, env string) {
	if os.Getenv("IMAGEGATE_TEST_REQUIRE_ALL") == "1" {
		t.Fatalf("%s is not set", env)
	}
	t.Logf("%s is not set: that store is left out", env)
}

func suffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
