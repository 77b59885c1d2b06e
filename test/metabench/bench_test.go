package metabench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagegate/imagegate/metadata"
)

// results are one store's figures, by row name.
type results map[string]string

// TestMetadataBench: see the package documentation. Gated by
// IMAGEGATE_METABENCH=1.
func TestMetadataBench(t *testing.T) {
	if os.Getenv("IMAGEGATE_METABENCH") != "1" {
		t.Skip("IMAGEGATE_METABENCH=1 runs the metadata store benchmark (about half an hour, see doc.go)")
	}
	total := envInt(t, "IMAGEGATE_METABENCH_RECORDS", 1_000_000)
	writes := envInt(t, "IMAGEGATE_METABENCH_WRITES", 2000)
	fillers := envInt(t, "IMAGEGATE_METABENCH_FILLERS", 64)
	stores := openStores(t)

	// Fill every store at once (not measured: only its rate is logged).
	var wg sync.WaitGroup
	for _, s := range stores {
		wg.Go(func() { fill(t, s, total, fillers) })
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for i, s := range stores {
		if s.filled == nil {
			continue
		}
		st, err := s.filled()
		if err != nil {
			t.Fatalf("%s: after the fill: %v", s.name, err)
		}
		stores[i].store = st
	}

	// Then one store at a time, alone on the machine: the API's queries on
	// the full store, then new writes at concurrency 1 and 32.
	rows := []string{}
	all := map[string]results{}
	for _, s := range stores {
		r := results{}
		all[s.name] = r
		rows = measureQueries(t, s, total, r)
		for _, c := range []int{1, 32} {
			n := writes * max(1, c/4)
			st, err := measure(n, c, func(i int) error { return s.store.Put(context.Background(), newRecord(i)) })
			if err != nil {
				t.Fatalf("%s: Put at concurrency %d: %v", s.name, c, err)
			}
			r[fmt.Sprintf("write, concurrency %d: p50 / p99 ms", c)] = st.String()
			r[fmt.Sprintf("write, concurrency %d: writes/s", c)] = fmt.Sprintf("%.0f", st.perSec)
			t.Logf("%s: %d writes at concurrency %d: p50 %s ms, p99 %s ms, %.0f/s", s.name, n, c, ms(st.p50), ms(st.p99), st.perSec)
		}
	}
	rows = append([]string{
		"write, concurrency 1: p50 / p99 ms", "write, concurrency 1: writes/s",
		"write, concurrency 32: p50 / p99 ms", "write, concurrency 32: writes/s",
	}, rows...)
	t.Log("\n" + table(stores, rows, all, total))
}

// fill puts records 0 … total-1 into s with fillers writers.
func fill(t *testing.T, s benchStore, total, fillers int) {
	start := time.Now()
	step := max(total/10, 1)
	for from := 0; from < total; from += step {
		n := min(step, total-from)
		if _, err := measure(n, fillers, func(i int) error {
			return s.store.Put(context.Background(), fillRecord(from+i))
		}); err != nil {
			t.Errorf("%s: filling: %v", s.name, err)
			return
		}
		done := from + n
		t.Logf("%s: %d records in %s (%.0f/s)", s.name, done, time.Since(start).Round(time.Second),
			float64(done)/time.Since(start).Seconds())
	}
}

// measureQueries times each of the API's queries on s, checking every
// answer, and returns the row names in order.
func measureQueries(t *testing.T, s benchStore, total int, r results) []string {
	ctx := context.Background()
	first, err := s.store.List(ctx, metadata.Query{Repository: hotRepo, Limit: 50})
	if err != nil {
		t.Fatalf("%s: first page: %v", s.name, err)
	}
	var rows []string
	for _, q := range queries(total, first.Next) {
		st, err := measure(q.iters, 1, func(int) error {
			page, err := s.store.List(ctx, q.query)
			if err != nil {
				return err
			}
			return q.check(page)
		})
		if err != nil {
			t.Fatalf("%s: %s: %v", s.name, q.name, err)
		}
		row := "list: " + q.name + ": p50 / p99 ms"
		rows = append(rows, row)
		r[row] = st.String()
		t.Logf("%s: %s: p50 %s ms, p99 %s ms", s.name, q.name, ms(st.p50), ms(st.p99))
	}
	return rows
}

// table renders the figures as Markdown, one column per store.
func table(stores []benchStore, rows []string, all map[string]results, total int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| %d records |", total)
	for _, s := range stores {
		fmt.Fprintf(&b, " %s |", s.name)
	}
	b.WriteString("\n|---|")
	for range stores {
		b.WriteString("---:|")
	}
	for _, row := range rows {
		fmt.Fprintf(&b, "\n| %s |", row)
		for _, s := range stores {
			fmt.Fprintf(&b, " %s |", all[s.name][row])
		}
	}
	return b.String()
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}
