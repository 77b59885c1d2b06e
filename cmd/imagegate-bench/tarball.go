package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/imagegate/imagegate/internal/benchdata"
)

// The tarball door's rows: a generated `docker save` tarball of each kind
// of data posted to imagegate's POST /upload-image with each layer
// compression, and copied by `skopeo copy docker-archive:` into an
// imagegate of the default configuration, the baseline of the ratios.

// tarOptions are the tarball rows' flags.
type tarOptions struct {
	size   int64  // bytes of each generated tarball; 0 runs no tarball row
	skopeo string // skopeo binary; "" skips the skopeo rows (and the ratios)
	doors  string // comma-separated door names (doors)
	kinds  string // comma-separated kinds of data (kinds)
}

// quickTarball is the tarballs' size in a smoke run (-quick): 4 layers of 8 MiB.
const quickTarball = 32 << 20

func (t *tarOptions) register(fs *flag.FlagSet) {
	fs.Int64Var(&t.size, "tarball", 1<<30, "`bytes` of each docker save tarball of the tarball door's rows (0 runs none)")
	fs.StringVar(&t.skopeo, "skopeo", os.Getenv("SKOPEO_BIN"), "skopeo `binary` (scripts/install-clients.sh; empty skips the skopeo rows and the ratios)")
	fs.StringVar(&t.doors, "doors", strings.Join(doorNames(), ","), "comma-separated `doors` of the tarball rows")
	fs.StringVar(&t.kinds, "kinds", strings.Join(kindNames(), ","), "comma-separated `kinds` of data of the tarball rows")
}

// door is one way of getting a tarball into imagegate.
type door struct {
	name   string
	env    []string // the layer compression of its imagegate
	skopeo bool     // skopeo copy docker-archive: instead of POST /upload-image
}

// doors are the tarball rows' doors, in the table's order; skopeo is the
// baseline of the ratios.
var doors = []door{
	{name: "imagegate"}, // upload.layercompression's default, gzip
	{name: "none", env: []string{"IMAGEGATE_UPLOAD_LAYERCOMPRESSION=none"}},
	{name: "zstd", env: []string{"IMAGEGATE_UPLOAD_LAYERCOMPRESSION=zstd"}},
	{name: "skopeo", skopeo: true},
}

// kind is one kind of data: its tarball, generated once per run.
type kind struct {
	name   string
	random bool
	path   string
	size   int64
}

var kinds = []kind{{name: "compressible"}, {name: "incompressible", random: true}}

func doorNames() []string { return names(doors, func(d door) string { return d.name }) }
func kindNames() []string { return names(kinds, func(k kind) string { return k.name }) }

func names[T any](xs []T, name func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = name(x)
	}
	return out
}

// pick returns the elements of all named in the comma-separated list, in
// all's order, or an error naming what is unknown.
func pick[T any](list string, all []T, name func(T) string) ([]T, error) {
	want := strings.Split(list, ",")
	var out []T
	for _, x := range all {
		if i := slices.Index(want, name(x)); i >= 0 {
			out = append(out, x)
			want = slices.Delete(want, i, i+1)
		}
	}
	if len(want) > 0 {
		return nil, fmt.Errorf("unknown %v (known: %s)", want, strings.Join(names(all, name), ", "))
	}
	return out, nil
}

// wantTarball reports whether -only selects the tarball rows.
func wantTarball(o options) bool {
	return o.tar.size > 0 && (o.only == "" || slices.Contains(strings.Split(o.only, ","), "tarball"))
}

// tarballConfig is the configuration of the tarball rows' imagegates:
// the defaults, without the vulnerability scan (the gate's, common to
// every door and to skopeo's push, and not what these rows measure).
const tarballConfig = "scan:\n  policies: []\n"

// tarRun is what the tarball rows run on: the doors and kinds selected,
// each kind's tarball generated, imagegate's configuration file, skopeo.
type tarRun struct {
	doors  []door
	kinds  []kind
	config string // imagegate's configuration file (tarballConfig)
	skopeo string // skopeo binary, absolute
	skip   string // why the skopeo rows are skipped ("" when they run)
}

// prepareTarball reads the tarball rows' flags and writes their files
// (the tarballs, the configuration) into dir.
func prepareTarball(o options, dir string) (*tarRun, error) {
	ds, err := pick(o.tar.doors, doors, func(d door) string { return d.name })
	if err != nil {
		return nil, fmt.Errorf("-doors: %w", err)
	}
	ks, err := pick(o.tar.kinds, kinds, func(k kind) string { return k.name })
	if err != nil {
		return nil, fmt.Errorf("-kinds: %w", err)
	}
	t := &tarRun{doors: ds, kinds: ks, config: filepath.Join(dir, "tarball.yaml")}
	if slices.ContainsFunc(ds, func(d door) bool { return d.skopeo }) {
		if t.skopeo, t.skip, err = findSkopeo(o.tar.skopeo); err != nil {
			return nil, err
		}
	}
	for i := range t.kinds {
		k := &t.kinds[i]
		k.path = filepath.Join(dir, k.name+".tar")
		fmt.Fprintf(os.Stderr, "generating a %d MiB docker save tarball of %s layers...\n", o.tar.size>>20, k.name)
		if err := benchdata.WriteDockerSave(k.path, o.tar.size, k.random); err != nil {
			return nil, err
		}
		fi, err := os.Stat(k.path)
		if err != nil {
			return nil, err
		}
		k.size = fi.Size()
	}
	return t, os.WriteFile(t.config, []byte(tarballConfig), 0o644)
}

// runTarball measures the tarball door against skopeo and prints its
// table: for each round, each kind and each door (the order rotating
// each round), one upload into a fresh imagegate of its own, so that its
// CPU time and peak RSS are that upload's alone and nothing is
// deduplicated (nor found by skopeo's blob cache). disk is the disk's
// write+fsync rate measured by the run (MB/s).
func runTarball(ctx context.Context, o options, dir string, disk float64, out io.Writer) error {
	if !wantTarball(o) {
		return nil
	}
	tr, err := prepareTarball(o, dir)
	if err != nil {
		return err
	}
	load0 := loadavg()
	samples := map[string][]doorSample{}
	for r := range o.rounds {
		for _, k := range tr.kinds {
			for _, d := range rotate(tr.doors, r) {
				if d.skopeo && tr.skip != "" {
					continue
				}
				up := upload{o: o, door: d, kind: k, round: r, dir: dir, config: tr.config, skopeo: tr.skopeo}
				s, err := up.measure(ctx)
				if err != nil {
					return fmt.Errorf("round %d, tarball %s %s: %w", r+1, k.name, d.name, err)
				}
				samples[k.name+"\x00"+d.name] = append(samples[k.name+"\x00"+d.name], s)
				fmt.Fprintf(os.Stderr, "round %d tarball %-14s %-10s %7.0f MB/s %6.2f server CPU s/GB %6.2f client CPU s/GB %4.0f MiB peak RSS (anon %.0f)\n",
					r+1, k.name, d.name, s.mbps(k.size), s.serverCPU/gb(k.size), s.clientCPU/gb(k.size), s.peakMiB(), s.anonMiB())
			}
		}
	}
	t := tarTable{kinds: tr.kinds, doors: tr.doors, samples: samples, rounds: o.rounds, disk: disk, skip: tr.skip}
	fmt.Fprintf(out, "\ntarball door: POST /upload-image of a docker save tarball against skopeo copy docker-archive:, each upload into a fresh imagegate (scan off); load %s → %s\n", load0, loadavg())
	t.print(out)
	return nil
}

// findSkopeo resolves the -skopeo binary to an absolute path, or says
// why the skopeo rows are skipped when it is empty.
func findSkopeo(bin string) (path, skip string, err error) {
	if bin == "" {
		return "", "no skopeo (scripts/install-clients.sh installs it, or -skopeo)", nil
	}
	found, err := exec.LookPath(bin)
	if err != nil {
		return "", "", fmt.Errorf("-skopeo: %w", err)
	}
	path, err = filepath.Abs(found)
	return path, "", err
}

// rotate returns ds with its first r%len(ds) elements moved to its end:
// who goes first changes each round.
func rotate(ds []door, r int) []door {
	r %= len(ds)
	return append(slices.Clone(ds[r:]), ds[:r]...)
}

func gb(n int64) float64 { return float64(n) / 1e9 }

// medianOf is the median of v (0 for none); v is sorted in place.
func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}
