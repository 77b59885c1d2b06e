package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"strings"
	"testing"
)

// ent is one entry of a synthetic layer tar.
type ent struct {
	name string
	typ  byte
	size int
	link string
}

func file(name string, size int) ent { return ent{name: name, typ: tar.TypeReg, size: size} }
func dir(name string) ent            { return ent{name: name + "/", typ: tar.TypeDir} }
func symlink(name, to string) ent    { return ent{name: name, typ: tar.TypeSymlink, link: to} }
func hardlink(name, to string) ent   { return ent{name: name, typ: tar.TypeLink, link: to} }
func fifo(name string) ent           { return ent{name: name, typ: tar.TypeFifo} }

// whiteout is ".wh.<base>" in the directory of name.
func whiteout(name string) ent {
	i := strings.LastIndexByte(name, '/')
	return file(name[:i+1]+".wh."+name[i+1:], 0)
}

// opaque is the marker of directory d.
func opaque(d string) ent { return file(d+"/.wh..wh..opq", 0) }

// layerTar writes ents into an uncompressed tar, contents of the given
// sizes.
func layerTar(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644, Format: tar.FormatPAX}
		if e.typ == tar.TypeReg {
			hdr.Size = int64(e.size)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("tar header %s: %v", e.name, err)
		}
		if e.typ == tar.TypeReg {
			if _, err := tw.Write(bytes.Repeat([]byte{'x'}, e.size)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// mustIndex indexes a synthetic layer with default limits.
func mustIndex(t testing.TB, ents ...ent) *LayerIndex {
	t.Helper()
	x, err := Index(context.Background(), bytes.NewReader(layerTar(t, ents...)), Limits{})
	if err != nil {
		t.Fatalf("Index: %v", err)
	}
	return x
}

// image analyses layers of entries, each created by the matching command.
func image(t testing.TB, cmds []string, layers ...[]ent) *Report {
	t.Helper()
	ls := make([]Layer, len(layers))
	for i, ents := range layers {
		ls[i] = Layer{Index: mustIndex(t, ents...), CreatedBy: cmds[i]}
	}
	r, err := Analyze(ls, Limits{})
	if err != nil {
		t.Fatalf("Analyze: %v", err)
	}
	return r
}
