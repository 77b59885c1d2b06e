package fleet

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"testing"
	"time"
)

// logLine is the part of a replica's or scanner's JSON log line that the
// tests read: access log lines ("request": method, route, duration_ms),
// the gate's "image scanned" (duration_ms, the scan as the replica waited
// for it) and the scanner's "image scanned" (scan/remote.Server logs one
// per scan it answered: repository, digest, db, and duration_ms, Trivy's
// own time).
type logLine struct {
	Time       time.Time `json:"time"`
	Msg        string    `json:"msg"`
	Method     string    `json:"method"`
	Route      string    `json:"route"`
	DurationMS float64   `json:"duration_ms"`
	Repository string    `json:"repository"`
	Digest     string    `json:"digest"`
	DB         string    `json:"db"`
}

// timeBreakdown sums up where the fleet's time went from since on: per
// request kind (method and route, from the replicas' access logs) and per
// scan (the replicas' wait for the pool, the scanners' own time), each
// with its count, p50, p99 and total. One line per kind, the most total
// time first.
func (f *fleet) timeBreakdown(t testing.TB, since time.Time) []string {
	t.Helper()
	kinds := map[string][]float64{}
	for _, r := range f.replicas {
		for _, l := range readLog(t, r.LogPath, since) {
			switch l.Msg {
			case "request":
				k := l.Method + " " + l.Route
				kinds[k] = append(kinds[k], l.DurationMS)
			case "image scanned":
				kinds["scan, replica waiting for the pool"] = append(kinds["scan, replica waiting for the pool"], l.DurationMS)
			}
		}
	}
	for _, s := range f.scanners {
		for _, l := range readLog(t, s.LogPath, since) {
			if l.Msg == "image scanned" {
				kinds["scan, scanner's Trivy time"] = append(kinds["scan, scanner's Trivy time"], l.DurationMS)
			}
		}
	}
	total := func(ds []float64) (s float64) {
		for _, d := range ds {
			s += d
		}
		return s
	}
	keys := slices.SortedFunc(maps.Keys(kinds), func(a, b string) int {
		return cmp.Compare(total(kinds[b]), total(kinds[a]))
	})
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		ds := kinds[k]
		slices.Sort(ds)
		pct := func(p float64) float64 { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
		out = append(out, fmt.Sprintf("%-36s %6d  p50 %8.1f ms  p99 %8.1f ms  total %7.1f s",
			k, len(ds), pct(0.5), pct(0.99), total(ds)/1000))
	}
	return out
}

// readLog returns the JSON lines of the log at path logged at or after
// since; lines that are not JSON are skipped.
func readLog(t testing.TB, path string, since time.Time) []logLine {
	t.Helper()
	file, err := os.Open(path)
	if err != nil {
		t.Fatalf("read log: %v", err)
	}
	defer file.Close()
	var out []logLine
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && !l.Time.Before(since) {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read log %s: %v", path, err)
	}
	return out
}
