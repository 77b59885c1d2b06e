package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestIndexKindsWhiteoutsAndMarkers(t *testing.T) {
	x := mustIndex(t,
		dir("etc"),
		file("etc/passwd", 120),
		symlink("bin", "usr/bin"),
		hardlink("etc/passwd-", "etc/passwd"),
		fifo("run/fifo"),
		whiteout("etc/shadow"),
		opaque("var/lib"),
		file("var/lib/.wh..wh.plnk", 0), // AUFS metadata: skipped
		file(".wh..wh..opq", 0),         // a marker at the root: skipped
		file("./usr//bin/../bin/env", 7),
	)
	want := []Entry{
		{Path: "bin", Kind: Symlink},
		{Path: "etc", Kind: Dir},
		{Path: "etc/passwd", Size: 120, Kind: File},
		{Path: "etc/passwd-", Kind: Hardlink},
		{Path: "etc/shadow", Kind: File, Whiteout: true},
		{Path: "run/fifo", Kind: Other},
		{Path: "usr/bin/env", Size: 7, Kind: File},
		{Path: "var/lib", Kind: Dir, Opaque: true},
	}
	if !reflect.DeepEqual(x.Entries, want) {
		t.Errorf("entries:\n got %+v\nwant %+v", x.Entries, want)
	}
	if x.Bytes != 127 || x.Files != 2 || x.Duplicates != 0 || x.Unsafe != 0 {
		t.Errorf("totals: bytes %d files %d duplicates %d unsafe %d", x.Bytes, x.Files, x.Duplicates, x.Unsafe)
	}
}

// A path repeated inside a layer: the last entry wins, as Docker applies
// it; the replaced content is counted as duplicate bytes.
func TestIndexDuplicatesLastWins(t *testing.T) {
	x := mustIndex(t, file("a", 10), dir("d"), file("a", 25), whiteout("d"), file("./a", 40), whiteout("d"), dir("d"))
	want := []Entry{
		{Path: "a", Size: 40, Kind: File},
		{Path: "d", Kind: File, Whiteout: true},
		{Path: "d", Kind: Dir},
	}
	if !reflect.DeepEqual(x.Entries, want) {
		t.Errorf("entries:\n got %+v\nwant %+v", x.Entries, want)
	}
	if x.Duplicates != 4 || x.DuplicateBytes != 35 || x.Bytes != 40 || x.TarBytes() != 75 {
		t.Errorf("duplicates %d (%d B), bytes %d, tar bytes %d", x.Duplicates, x.DuplicateBytes, x.Bytes, x.TarBytes())
	}
}

// Traversal and absolute names are rooted, never kept as written.
func TestIndexRootsHostilePaths(t *testing.T) {
	x := mustIndex(t,
		file("../../etc/cron.d/evil", 1),
		file("/abs/file", 2),
		file("a/../../../b", 3),
		file("..", 4),
		dir("/"),
		dir("."),
	)
	var paths []string
	for _, e := range x.Entries {
		paths = append(paths, e.Path)
	}
	if want := []string{"abs/file", "b", "etc/cron.d/evil"}; !reflect.DeepEqual(paths, want) {
		t.Errorf("paths %q, want %q", paths, want)
	}
	if x.Unsafe != 3 {
		t.Errorf("unsafe %d, want 3 (the three names with a leading ..)", x.Unsafe)
	}
}

func TestCleanName(t *testing.T) {
	for _, c := range []struct {
		in, out     string
		escaped, ok bool
	}{
		{"a/b", "a/b", false, true},
		{"./a//b/", "a/b", false, true},
		{"../x", "x", true, true},
		{"/../x", "x", false, true},
		{"a\x00b", "", false, false},
		{"", "", false, true},
	} {
		out, escaped, ok := cleanName(c.in)
		if out != c.out || escaped != c.escaped || ok != c.ok {
			t.Errorf("cleanName(%q) = %q %v %v, want %q %v %v", c.in, out, escaped, ok, c.out, c.escaped, c.ok)
		}
	}
}

func TestIndexLimits(t *testing.T) {
	deep := strings.Repeat("d/", 40) + "f"
	long := strings.Repeat("x", 300)
	many := make([]ent, 101)
	for i := range many {
		many[i] = file(strings.Repeat("f", i+1), 0)
	}
	for _, c := range []struct {
		name  string
		ents  []ent
		lim   Limits
		limit string
		msg   string
	}{
		{"entries", many, Limits{MaxEntries: 100}, "entries", "layers: more than 100 entries in one layer"},
		{"path bytes", []ent{file(long, 1)}, Limits{MaxPathBytes: 256}, "path bytes", "layers: a path longer than 256 bytes"},
		{"depth", []ent{file(deep, 1)}, Limits{MaxDepth: 40}, "depth", "layers: a path deeper than 40 components"},
		{"index bytes", many, Limits{MaxIndexBytes: 5000}, "index bytes", "layers: more than 5000 bytes of paths in one layer"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Index(context.Background(), bytes.NewReader(layerTar(t, c.ents...)), c.lim)
			var le *LimitError
			if !errors.As(err, &le) || !errors.Is(err, ErrLimit) || le.Limit != c.limit {
				t.Fatalf("err = %v, want a %q LimitError", err, c.limit)
			}
			if err.Error() != c.msg {
				t.Errorf("message %q, want %q", err, c.msg)
			}
		})
	}
	// At the limit is fine: the 101 names hold 1+2+…+101 = 5151 bytes.
	if _, err := Index(context.Background(), bytes.NewReader(layerTar(t, file(deep, 1))), Limits{MaxDepth: 41}); err != nil {
		t.Errorf("41 components under MaxDepth 41: %v", err)
	}
	if _, err := Index(context.Background(), bytes.NewReader(layerTar(t, many...)), Limits{MaxIndexBytes: 5151}); err != nil {
		t.Errorf("5151 bytes of paths under MaxIndexBytes 5151: %v", err)
	}
}

// countingReader counts what was read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Index reads the whole stream, the zero padding after the tar's end
// included, so that the caller's diff_id sees every byte.
func TestIndexReadsToTheEnd(t *testing.T) {
	b := append(layerTar(t, file("a", 5000)), make([]byte, 20480)...)
	cr := &countingReader{r: bytes.NewReader(b)}
	if _, err := Index(context.Background(), cr, Limits{}); err != nil {
		t.Fatal(err)
	}
	if cr.n != int64(len(b)) {
		t.Errorf("read %d of %d bytes", cr.n, len(b))
	}
}

func TestIndexRefusesBrokenStreams(t *testing.T) {
	full := layerTar(t, file("a", 5000), file("b", 10))
	for name, b := range map[string][]byte{
		"truncated": full[:1024],
		"not a tar": bytes.Repeat([]byte("garbage!"), 200),
	} {
		if _, err := Index(context.Background(), bytes.NewReader(b), Limits{}); err == nil || errors.Is(err, ErrLimit) {
			t.Errorf("%s: err = %v, want a read error", name, err)
		}
	}
}

// endlessTar streams a tar of empty files until the reader gives up, and
// reports how many entries it wrote.
func endlessTar(name func(i int) string) (io.ReadCloser, chan int) {
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		tw := tar.NewWriter(pw)
		i := 0
		for ; ; i++ {
			if err := tw.WriteHeader(&tar.Header{Name: name(i), Typeflag: tar.TypeReg, Mode: 0o644}); err != nil {
				break
			}
		}
		done <- i
	}()
	return pr, done
}

// A stream with more entries than the limit is refused after reading the
// limit's worth, whatever follows.
func TestIndexHugeEntryCountIsBounded(t *testing.T) {
	r, done := endlessTar(func(i int) string { return "f" + strings.Repeat("x", i%50) + string(rune('a'+i%26)) })
	_, err := Index(context.Background(), r, Limits{MaxEntries: 5000})
	r.Close()
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("err = %v, want ErrLimit", err)
	}
	if written := <-done; written > 5100 {
		t.Errorf("the writer got %d entries through, want about 5001", written)
	}
}

func TestIndexStopsWithTheContext(t *testing.T) {
	r, done := endlessTar(func(i int) string { return "f" })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Index(ctx, r, Limits{})
	r.Close()
	<-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// With GODEBUG=tarinsecurepath=0, archive/tar reports insecure names with
// tar.ErrInsecurePath and the header: Index roots them as usual.
func TestIndexUnderTarInsecurePath0(t *testing.T) {
	t.Setenv("GODEBUG", "tarinsecurepath=0")
	b := layerTar(t, file("../escape", 3), file("ok", 1))
	tr := tar.NewReader(bytes.NewReader(b))
	if _, err := tr.Next(); !errors.Is(err, tar.ErrInsecurePath) {
		t.Skipf("archive/tar did not report the insecure path (%v)", err)
	}
	x, err := Index(context.Background(), bytes.NewReader(b), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(x.Entries) != 2 || x.Entries[0].Path != "escape" || x.Unsafe != 1 {
		t.Errorf("entries %+v, unsafe %d", x.Entries, x.Unsafe)
	}
}

// A file of gigabytes does not hold Index past its context's end.
func TestIndexStopsInsideALargeFile(t *testing.T) {
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		_ = tw.WriteHeader(&tar.Header{Name: "huge", Typeflag: tar.TypeReg, Size: 1 << 40, Mode: 0o644})
		chunk := make([]byte, 1<<20)
		for {
			if _, err := tw.Write(chunk); err != nil {
				return
			}
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Index(ctx, pr, Limits{})
	pr.Close()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
