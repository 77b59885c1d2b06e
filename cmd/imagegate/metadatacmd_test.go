package main

import (
	"strings"
	"testing"

	"github.com/imagegate/imagegate/metadata/sqlstore/sqltest"
)

// TestMetadataMigrate: `imagegate metadata migrate` migrates an empty
// database of each SQL driver — also with skipmigrations, which only
// stops serve from migrating — then finds nothing to do.
func TestMetadataMigrate(t *testing.T) {
	for _, driver := range sqltest.Drivers {
		t.Run(driver, func(t *testing.T) {
			cfg := sqltest.Config(t, driver)
			env := []string{"IMAGEGATE_METADATA_DRIVER=" + driver, "IMAGEGATE_METADATA_SQL_DSN=" + cfg.DSN,
				"IMAGEGATE_METADATA_SQL_SKIPMIGRATIONS=true"}
			out, err := runCLI(t, env, "metadata", "migrate")
			if err != nil || out != driver+" schema migrated from version 0 to 1\n" {
				t.Fatalf("first run: %q, %v", out, err)
			}
			out, err = runCLI(t, env, "metadata", "migrate")
			if err != nil || out != driver+" schema is at version 1: nothing to do\n" {
				t.Fatalf("second run: %q, %v", out, err)
			}
		})
	}
}

// TestMetadataMigrateOtherDriver: with bolt there is nothing to migrate,
// and the command says why.
func TestMetadataMigrateOtherDriver(t *testing.T) {
	_, stderr, status := cli(t, "", nil, "metadata", "migrate")
	if status != 1 || !strings.Contains(stderr, `metadata.driver is "bolt": migrations are for postgres and mysql`) {
		t.Fatalf("status %d, stderr %q", status, stderr)
	}
}
