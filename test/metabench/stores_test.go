package metabench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
}

// openStores opens every store whose server is configured, each on a
// new, empty table (bolt file, DynamoDB table, SQL schema or database).
// A missing server is logged and left out, or fails the test under
// IMAGEGATE_TEST_REQUIRE_ALL=1.
func openStores(t *testing.T) []benchStore {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := bolt.Open(filepath.Join(t.TempDir(), "metadata.db"), time.Second)
	if err != nil {
		t.Fatalf("bolt: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	stores := []benchStore{{"bolt", b}}

	if endpoint := os.Getenv("IMAGEGATE_TEST_DYNAMODB_ENDPOINT"); endpoint != "" {
		d, err := dynamodb.New(ctx, dynamodb.Config{Table: "metabench-" + suffix(), Endpoint: endpoint, CreateTable: true})
		if err != nil {
			t.Fatalf("dynamodb: %v", err)
		}
		t.Cleanup(func() { _ = d.Close() })
		stores = append(stores, benchStore{"dynamodb-local", d})
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
		stores = append(stores, benchStore{name, s})
	}
	return stores
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
