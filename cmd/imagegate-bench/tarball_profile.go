package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// profileTarball takes one CPU profile of imagegate per kind and
// imagegate door (skopeo's server is not profiled) when rows names
// "tarball": one upload, untimed, says how long one takes; then uploads
// repeat while a profile covering at least one whole upload (10 s at
// least) is taken, written to o.profile/tarball-<kind>-<door>.pprof.
func profileTarball(ctx context.Context, o options, dir, rows string, out io.Writer) error {
	if o.tar.size <= 0 || !slices.Contains(strings.Split(rows, ","), "tarball") {
		return nil
	}
	tr, err := prepareTarball(o, dir)
	if err != nil {
		return err
	}
	for _, k := range tr.kinds {
		for _, d := range tr.doors {
			if d.skopeo {
				continue
			}
			if err := profileDoor(ctx, o, tr, d, k, dir, out); err != nil {
				return fmt.Errorf("profiling tarball %s %s: %w", k.name, d.name, err)
			}
		}
	}
	return nil
}

func profileDoor(ctx context.Context, o options, tr *tarRun, d door, k kind, dir string, out io.Writer) error {
	srv, stop, err := startDoor(o, d, k, dir, tr.config)
	if err != nil {
		return err
	}
	defer stop()
	t := time.Now()
	if err := postTarball(ctx, srv, k.path, k.size, "bench/profile"); err != nil {
		return err
	}
	seconds := max(10, int(math.Ceil(time.Since(t).Seconds()))+1)
	path := filepath.Join(o.profile, fmt.Sprintf("tarball-%s-%s.pprof", k.name, d.name))
	runs, err := whileProfiling(srv, path, seconds, func(i int) error {
		return postTarball(ctx, srv, k.path, k.size, fmt.Sprintf("bench/profile%d", i))
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "tarball %s %s: %d uploads in %d s, profile %s\n", k.name, d.name, runs, seconds, path)
	return nil
}
