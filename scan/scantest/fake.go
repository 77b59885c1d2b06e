package scantest

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/scan"
)

// Fake is a scan.Scanner for tests of the scanner's callers: it reads the
// target's layers through Target.Open, takes the OS and apk database from
// the last layer holding them (no whiteouts), and matches the installed
// packages against Advisories. It understands only the fixture version
// scheme ("1.2.5-r10"). It passes the Contract suite and needs no DB.
type Fake struct {
	// Advisories to match; nil means Advisories().
	Advisories []Advisory
	// NotReady makes Status report no DB and Scan fail with scan.ErrNoDB.
	NotReady bool

	scans  atomic.Int64
	closed atomic.Bool
}

var _ scan.Scanner = (*Fake)(nil)

// Scans returns how many scans ran to completion.
func (f *Fake) Scans() int { return int(f.scans.Load()) }

// Status implements scan.Scanner.
func (f *Fake) Status(context.Context) scan.Status {
	if f.NotReady {
		return scan.Status{Error: "scantest.Fake: NotReady is set"}
	}
	return scan.Status{Ready: true, DBVersion: "fake", DBUpdatedAt: created}
}

// Close implements scan.Scanner.
func (f *Fake) Close() error {
	f.closed.Store(true)
	return nil
}

// Scan implements scan.Scanner.
func (f *Fake) Scan(ctx context.Context, t scan.Target) (*scan.Report, error) {
	switch {
	case f.closed.Load():
		return nil, scan.ErrClosed
	case f.NotReady:
		return nil, scan.ErrNoDB
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	var osRelease string
	var pkgs []Package
	var pkgLayer digest.Digest
	for _, l := range t.Layers {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("scantest.Fake: scan %s: %w", t.Digest, err)
		}
		files, err := readLayer(ctx, t, l.Digest)
		if err != nil {
			return nil, fmt.Errorf("scantest.Fake: layer %s: %w", l.Digest, err)
		}
		if r, ok := files["etc/alpine-release"]; ok {
			osRelease = "alpine " + strings.TrimSpace(r)
		}
		if db, ok := files["lib/apk/db/installed"]; ok {
			pkgs, pkgLayer = parseAPK(db), l.Digest
		}
	}
	r := &scan.Report{Scanner: "scantest.Fake", ScannerVersion: "0", DBVersion: "fake",
		DBUpdatedAt: created, ScannedAt: time.Now().UTC(), OS: osRelease}
	advisories := f.Advisories
	if advisories == nil {
		advisories = Advisories()
	}
	for _, p := range pkgs {
		for _, a := range advisories {
			if a.Package != p.Name || (a.FixedVersion != "" && compareVersions(p.Version, a.FixedVersion) >= 0) {
				continue
			}
			status := "fixed"
			if a.FixedVersion == "" {
				status = "affected"
			}
			r.Vulnerabilities = append(r.Vulnerabilities, scan.Vulnerability{
				ID: a.ID, Package: p.Name, InstalledVersion: p.Version, FixedVersion: a.FixedVersion,
				Severity: a.Severity, Title: a.Title, Status: status, Layer: pkgLayer,
				PrimaryURL: "https://example.invalid/" + strings.ToLower(a.ID),
			})
		}
	}
	scan.SortVulnerabilities(r.Vulnerabilities)
	f.scans.Add(1)
	return r, nil
}

// readLayer returns the regular files of a (possibly gzip-compressed) layer.
func readLayer(ctx context.Context, t scan.Target, d digest.Digest) (map[string]string, error) {
	rc, err := t.Open(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	br := bufio.NewReader(rc)
	var r io.Reader = br
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, err
		}
		r = zr
	}
	files := map[string]string{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		files[strings.TrimPrefix(h.Name, "./")] = string(b)
	}
}

// parseAPK returns the P:/V: pairs of an apk database.
func parseAPK(db string) []Package {
	var out []Package
	var p Package
	for line := range strings.Lines(db + "\n") {
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "P:"):
			p.Name = line[2:]
		case strings.HasPrefix(line, "V:"):
			p.Version = line[2:]
		case line == "" && p.Name != "":
			out = append(out, p)
			p = Package{}
		}
	}
	return out
}

// compareVersions compares fixture versions "1.2.5-r10": dotted numbers,
// then the revision.
func compareVersions(a, b string) int {
	pa, pb := versionParts(a), versionParts(b)
	for i := range max(len(pa), len(pb)) {
		var x, y int
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		if x != y {
			return x - y
		}
	}
	return 0
}

// versionParts turns "1.2.5-r10" into [1 2 5 -1 10]: the -1 keeps the
// revision apart from further dotted numbers.
func versionParts(v string) []int {
	ver, rev, _ := strings.Cut(v, "-r")
	var out []int
	for f := range strings.SplitSeq(ver, ".") {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	n, _ := strconv.Atoi(rev)
	return append(out, -1, n)
}
