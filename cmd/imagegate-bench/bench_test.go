package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// TestQuickBench is make test's smoke run of the bench (-quick: 64 MiB,
// 32 MiB tarballs, one round): both servers start, every row runs against
// both and the table has a figure for each; every door of the tarball
// rows stores both kinds of tarball (the bench checks each manifest) and
// has its figures. It needs IMAGEGATE_BIN, DISTRIBUTION_BIN, CRANE_BIN
// and SKOPEO_BIN (scripts/test.sh exports them); without them it is
// skipped — failed under IMAGEGATE_TEST_REQUIRE_ALL=1.
func TestQuickBench(t *testing.T) {
	o := options{
		imagegate: os.Getenv("IMAGEGATE_BIN"), distribution: os.Getenv("DISTRIBUTION_BIN"), crane: os.Getenv("CRANE_BIN"),
		workdir: t.TempDir(), size: 64 << 20, chunk: 8 << 20, image: 32 << 20, rounds: 1, concurrent: 8,
		tar: tarOptions{size: quickTarball, skopeo: os.Getenv("SKOPEO_BIN"),
			doors: strings.Join(doorNames(), ","), kinds: strings.Join(kindNames(), ",")},
	}
	if o.imagegate == "" || o.distribution == "" || o.crane == "" || o.tar.skopeo == "" {
		if os.Getenv("IMAGEGATE_TEST_REQUIRE_ALL") == "1" {
			t.Fatal("IMAGEGATE_BIN, DISTRIBUTION_BIN, CRANE_BIN and SKOPEO_BIN must be set")
		}
		t.Skip("IMAGEGATE_BIN, DISTRIBUTION_BIN, CRANE_BIN or SKOPEO_BIN unset")
	}
	var out bytes.Buffer
	if err := run(context.Background(), o, &out); err != nil {
		t.Fatalf("bench: %v\n%s", err, out.String())
	}
	table := out.String()
	var rows []string
	for _, c := range cases {
		rows = append(rows, "| "+c.Name+" |")
	}
	for _, k := range kinds {
		for _, d := range doors {
			rows = append(rows, "| "+k.name+" | "+d.name+" |")
		}
	}
	for _, prefix := range rows {
		var row string
		for _, l := range strings.Split(table, "\n") {
			if strings.HasPrefix(l, prefix) {
				row = l
			}
		}
		if row == "" || strings.Contains(row, "skipped") || strings.Contains(row, "NaN") || strings.Contains(row, "Inf") {
			t.Errorf("row %q: %q\n%s", prefix, row, table)
		}
	}
	if !strings.Contains(table, "machine limits") {
		t.Errorf("no machine limits in:\n%s", table)
	}
}
