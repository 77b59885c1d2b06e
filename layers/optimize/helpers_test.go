package optimize

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/imagegate/imagegate/layers"
)

// ent is one entry of a synthetic layer: content is size random bytes
// drawn from seed (incompressible, so compressed sizes follow content).
type ent struct {
	name     string
	typ      byte
	size     int
	seed     uint64
	link     string
	mode     int64
	uid, gid int
}

func file(name string, size int, seed uint64) ent {
	return ent{name: name, typ: tar.TypeReg, size: size, seed: seed, mode: 0o644}
}
func dir(name string, mode int64) ent { return ent{name: name + "/", typ: tar.TypeDir, mode: mode} }
func symlink(name, to string) ent {
	return ent{name: name, typ: tar.TypeSymlink, link: to, mode: 0o777}
}
func hardlink(name, to string) ent { return ent{name: name, typ: tar.TypeLink, link: to, mode: 0o644} }
func whiteout(name string) ent {
	d, b := path.Split(name)
	return ent{name: d + ".wh." + b, typ: tar.TypeReg}
}
func opaque(d string) ent { return ent{name: d + "/.wh..wh..opq", typ: tar.TypeReg} }

func (e ent) owned(uid, gid int) ent { e.uid, e.gid = uid, gid; return e }
func (e ent) mod(mode int64) ent     { e.mode = mode; return e }

// content is the bytes of a file entry.
func (e ent) content() []byte {
	b := make([]byte, e.size)
	r := rand.NewChaCha8([32]byte{byte(e.seed), byte(e.seed >> 8), 1})
	_, _ = r.Read(b)
	return b
}

// layerTar writes ents into an uncompressed tar.
func layerTar(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode, Uid: e.uid, Gid: e.gid,
			ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if e.typ == tar.TypeReg {
			hdr.Size = int64(e.size)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("tar header %s: %v", e.name, err)
		}
		if e.typ == tar.TypeReg {
			if _, err := tw.Write(e.content()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// image builds a gzip image of the layers, one history line each.
func image(t testing.TB, ls ...[]ent) v1.Image {
	t.Helper()
	img := empty.Image
	for i, ents := range ls {
		b := layerTar(t, ents...)
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{CreatedBy: fmt.Sprintf("RUN step %d", i+1)}}); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.Config.Entrypoint = []string{"/app/run"}
	cfg.Config.Cmd = []string{"--serve"}
	cfg.Config.Env = []string{"A=1"}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// fsEntry is one path of a flattened file system.
type fsEntry struct {
	Type     byte
	Mode     int64
	UID, GID int
	Digest   string // content sha256 of regular files
	Link     string // symlink target, or hard link target (cleaned)
}

// extractFS flattens img with go-containerregistry's mutate.Extract.
// Hard links stay links (Extract keeps their names, and so resolves a
// link to a later version of its target: see applyFS).
func extractFS(t testing.TB, img v1.Image) map[string]fsEntry {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	out := map[string]fsEntry{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		e := fsEntry{Type: hdr.Typeflag, Mode: hdr.Mode, UID: hdr.Uid, GID: hdr.Gid}
		switch hdr.Typeflag {
		case tar.TypeReg:
			h := sha256.New()
			if _, err := io.Copy(h, tr); err != nil {
				t.Fatal(err)
			}
			e.Digest = fmt.Sprintf("%x", h.Sum(nil))
		case tar.TypeSymlink:
			e.Link = hdr.Linkname
		case tar.TypeLink:
			e.Link = path.Clean(hdr.Linkname)
		}
		out[path.Clean(hdr.Name)] = e
	}
}

// applyFS flattens img the way Docker applies layers (a layer's
// whiteouts and markers first, then its entries in order, the last
// entry of a path winning), with a hard link resolved when it is
// applied: it is the file its target path holds at that moment, and
// stays so when the path is later overwritten or deleted.
func applyFS(t testing.TB, img v1.Image) map[string]fsEntry {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	fs := map[string]fsEntry{}
	removeTree := func(p string) {
		for k := range fs {
			if k == p || strings.HasPrefix(k, p+"/") {
				delete(fs, k)
			}
		}
	}
	// mkparents creates d and its missing parents, as a runtime does for
	// an entry below d; not below a non-directory.
	mkparents := func(d string) {
		var missing []string
		for ; d != "."; d = path.Dir(d) {
			e, ok := fs[d]
			if ok && e.Type != tar.TypeDir {
				return
			}
			if !ok {
				missing = append(missing, d)
			}
		}
		for _, m := range missing {
			fs[m] = fsEntry{Type: tar.TypeDir, Mode: 0o755}
		}
	}
	for _, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		type item struct {
			name string
			e    fsEntry
		}
		var items []item
		tr := tar.NewReader(rc)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			name := path.Clean(hdr.Name)
			dir, base := path.Split(name)
			switch {
			case base == ".wh..wh..opq":
				d := path.Clean(dir)
				for k := range fs {
					if strings.HasPrefix(k, d+"/") {
						delete(fs, k)
					}
				}
				mkparents(d) // the marker's directory is its parent
				continue
			case strings.HasPrefix(base, ".wh."):
				removeTree(path.Join(dir, base[4:]))
				mkparents(path.Clean(dir))
				continue
			}
			e := fsEntry{Type: hdr.Typeflag, Mode: hdr.Mode, UID: hdr.Uid, GID: hdr.Gid, Link: hdr.Linkname}
			if hdr.Typeflag == tar.TypeReg {
				h := sha256.New()
				if _, err := io.Copy(h, tr); err != nil {
					t.Fatal(err)
				}
				e.Digest, e.Link = fmt.Sprintf("%x", h.Sum(nil)), ""
			}
			items = append(items, item{name, e})
		}
		rc.Close()
		for _, it := range items {
			old, exists := fs[it.name]
			if it.e.Type == tar.TypeLink {
				target, ok := fs[path.Clean(it.e.Link)]
				if !ok {
					t.Fatalf("hard link %s to missing %s", it.name, it.e.Link)
				}
				it.e = target
			}
			if exists && !(old.Type == tar.TypeDir && it.e.Type == tar.TypeDir) {
				removeTree(it.name)
			}
			// Missing parents: created as Docker's applier creates them.
			for d := path.Dir(it.name); d != "."; d = path.Dir(d) {
				if _, ok := fs[d]; !ok {
					fs[d] = fsEntry{Type: tar.TypeDir, Mode: 0o755}
				}
			}
			fs[it.name] = it.e
		}
	}
	return fs
}

// analyze runs layers.Index and layers.Analyze over img.
func analyze(t testing.TB, img v1.Image) *layers.Report {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var in []layers.Layer
	for _, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		x, err := layers.Index(context.Background(), rc, layers.Limits{})
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		size, _ := l.Size()
		in = append(in, layers.Layer{CompressedSize: size, Index: x})
	}
	r, err := layers.Analyze(in, layers.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// diffFS reports the differences between two flattened file systems.
func diffFS(t testing.TB, what string, want, got map[string]fsEntry) {
	t.Helper()
	for p, w := range want {
		if g, ok := got[p]; !ok {
			t.Errorf("%s: %s missing", what, p)
		} else if g != w {
			t.Errorf("%s: %s is %+v, want %+v", what, p, g, w)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: %s is new", what, p)
		}
	}
}

// readDir lists dir's names.
func readDir(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names, err
}
