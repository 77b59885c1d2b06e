package main

import (
	"fmt"
	"io"
	"slices"
)

// tarTable is the tarball rows' results: samples by kind and door
// ("kind\x00door"), one per round, in round order.
type tarTable struct {
	kinds   []kind
	doors   []door
	samples map[string][]doorSample
	rounds  int
	disk    float64 // the disk's write+fsync rate, MB/s
	skip    string  // why the skopeo rows did not run ("" if they did)
}

// print writes the table: per kind and door the medians over the rounds
// of MB/s of archive, its ratio to skopeo (the median of the per-round
// ratios: each pair ran in the same round), the share of the disk's
// write+fsync rate, server and client CPU seconds per GB of archive, the
// CPU ratio (skopeo and its server's CPU over the door's and its
// client's: what the machine's load moves least) and the highest peak
// RSS of the server over the rounds, whole (VmHWM: with the binary's
// file-backed pages) and anonymous (sampled).
func (t tarTable) print(out io.Writer) {
	fmt.Fprintf(out, "medians of %d rounds (peak RSS: the highest; VmHWM, and anonymous memory sampled every 20 ms); disk write+fsync %.0f MB/s\n", t.rounds, t.disk)
	for _, k := range t.kinds {
		fmt.Fprintf(out, "%s: %.0f MB archive\n", k.name, float64(k.size)/1e6)
	}
	fmt.Fprintln(out, "\n| data | door | MB/s | × skopeo | % of disk | server CPU s/GB | client CPU s/GB | × skopeo in CPU | server peak RSS MiB | server peak anon MiB |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|---|---|---|")
	for _, k := range t.kinds {
		base := t.samples[k.name+"\x00skopeo"]
		for _, d := range t.doors {
			if d.skopeo && t.skip != "" {
				fmt.Fprintf(out, "| %s | %s | skipped: %s | | | | | | | |\n", k.name, d.name, t.skip)
				continue
			}
			ss := t.samples[k.name+"\x00"+d.name]
			ratio, cpuRatio := "–", "–"
			if !d.skopeo && len(base) == len(ss) {
				ratio = fmt.Sprintf("%.2f", medianOf(pairs(ss, base, func(s, b doorSample) float64 {
					return s.mbps(k.size) / b.mbps(k.size)
				})))
				cpuRatio = fmt.Sprintf("%.2f", medianOf(pairs(ss, base, func(s, b doorSample) float64 {
					return (b.serverCPU + b.clientCPU) / (s.serverCPU + s.clientCPU)
				})))
			}
			mbps := medianOf(each(ss, func(s doorSample) float64 { return s.mbps(k.size) }))
			fmt.Fprintf(out, "| %s | %s | %.0f | %s | %.0f %% | %.2f | %.2f | %s | %.0f | %.0f |\n", k.name, d.name, mbps, ratio, 100*mbps/t.disk,
				medianOf(each(ss, func(s doorSample) float64 { return s.serverCPU / gb(k.size) })),
				medianOf(each(ss, func(s doorSample) float64 { return s.clientCPU / gb(k.size) })),
				cpuRatio, slices.Max(append(each(ss, doorSample.peakMiB), 0)), slices.Max(append(each(ss, doorSample.anonMiB), 0)))
		}
	}
}

func each(ss []doorSample, f func(doorSample) float64) []float64 {
	out := make([]float64, len(ss))
	for i, s := range ss {
		out[i] = f(s)
	}
	return out
}

// pairs applies f to the samples of the same round of a door and the baseline.
func pairs(ss, base []doorSample, f func(s, b doorSample) float64) []float64 {
	out := make([]float64, len(ss))
	for i := range ss {
		out[i] = f(ss[i], base[i])
	}
	return out
}
