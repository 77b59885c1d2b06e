package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestTarballTableRatios: the ratios to skopeo are the medians of the
// per-round ratios (not the ratio of the medians), the CPU ratio counts
// both sides' server and client, the peak RSS is the highest, the disk
// share is of the median rate; a skipped skopeo says why and leaves the
// ratios out.
func TestTarballTableRatios(t *testing.T) {
	k := kind{name: "compressible", size: 1e9}
	sample := func(seconds, server, client float64, peakMiB int64) doorSample {
		return doorSample{seconds: seconds, serverCPU: server, clientCPU: client, peakRSS: peakMiB << 20, peakAnon: (peakMiB - 60) << 20}
	}
	tbl := tarTable{
		kinds: []kind{k}, doors: []door{doors[0], doors[3]}, rounds: 3, disk: 400,
		samples: map[string][]doorSample{
			// 200, 200, 100 MB/s against 100, 50, 100: ratios 2, 4, 1.
			"compressible\x00imagegate": {sample(5, 4, 0.5, 90), sample(5, 4, 0.5, 120), sample(10, 4, 0.5, 100)},
			// CPU 3+9 = 12 against 4.5: 2.67 each round.
			"compressible\x00skopeo": {sample(10, 3, 9, 70), sample(20, 3, 9, 70), sample(10, 3, 9, 70)},
		},
	}
	var out bytes.Buffer
	tbl.print(&out)
	for _, want := range []string{
		"| compressible | imagegate | 200 | 2.00 | 50 % | 4.00 | 0.50 | 2.67 | 120 | 60 |",
		"| compressible | skopeo | 100 | – | 25 % | 3.00 | 9.00 | – | 70 | 10 |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no row %q in:\n%s", want, out.String())
		}
	}

	tbl.skip = "no skopeo"
	delete(tbl.samples, "compressible\x00skopeo")
	out.Reset()
	tbl.print(&out)
	for _, want := range []string{
		"| compressible | imagegate | 200 | – | 50 % | 4.00 | 0.50 | – | 120 | 60 |",
		"| compressible | skopeo | skipped: no skopeo |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no row %q in:\n%s", want, out.String())
		}
	}
}
