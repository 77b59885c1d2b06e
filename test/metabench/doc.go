// Package metabench compares the four metadata stores side by side in one
// run: bolt (the embedded default), DynamoDB Local, PostgreSQL and MariaDB.
// For each it measures record writes (metadata.Store.Put of new records)
// at concurrency 1 and 32, p50 and p99, then fills the store to
// IMAGEGATE_METABENCH_RECORDS records (default 1,000,000) and measures the
// List queries the records API (/api/v1/pushes) makes: newest first with
// no filter, by repository (a large one and a small one), by user, by
// digest, by repository and time, the second page through the cursor,
// and a full page of 1,000.
//
// It is not part of `make test` (about half an hour on the project's
// 2-core machine). scripts/metabench.sh runs it with all four stores:
//
//	sudo scripts/metabench.sh /tmp/metabench    # the table ends /tmp/metabench/metabench.log
//
// By hand, with servers of your own (DynamoDB Local listens on every
// interface: start it, and run the test, inside scripts/in-netns.sh, or
// on a machine with no network):
//
//	export IMAGEGATE_TEST_POSTGRES_DSN=... IMAGEGATE_TEST_MYSQL_DSN=... IMAGEGATE_TEST_DYNAMODB_ENDPOINT=...
//	IMAGEGATE_METABENCH=1 GOEXPERIMENT=jsonv2 CGO_ENABLED=0 \
//	    go test -count=1 -v -timeout 3h -run TestMetadataBench ./test/metabench/
//
// A store whose server is not configured is left out of the table (and
// named), unless IMAGEGATE_TEST_REQUIRE_ALL=1. The table is
// printed as Markdown at the end; docs/metadata-sql.md keeps the last one.
package metabench
