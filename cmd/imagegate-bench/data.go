package main

import (
	"archive/tar"
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
)

// Data is the random payload, generated once per run into one file and
// streamed from it by every measurement (never held in memory).
type Data struct {
	Path     string
	Size     int64
	Digest   string   // sha256:… of the whole file
	Sections []string // digests of Size/len(Sections) consecutive sections
	Layout   string   // an OCI image layout of layers cut from the file (crane push), new each round
	Image    int64    // the layout's layer bytes
	layers   int
}

// SectionSize is the size of one of the Sections.
func (d *Data) SectionSize() int64 { return d.Size / int64(len(d.Sections)) }

// Open returns a reader of n bytes of the file from off; close it after.
func (d *Data) Open(off, n int64) (io.ReadCloser, error) {
	f, err := os.Open(d.Path)
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(f, n), f}, nil
}

func digestOf(h hash.Hash) string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }

// generate writes size random bytes (ChaCha8 seeded from crypto/rand: as
// incompressible as crypto/rand, far faster) to dir/blob.bin, hashing the
// whole and its sections, then cuts an OCI layout of `layers` tar layers
// holding image bytes in all.
func generate(dir string, size int64, sections int, image int64, layers int) (*Data, error) {
	var seed [32]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, err
	}
	src := mrand.NewChaCha8(seed)
	d := &Data{Path: filepath.Join(dir, "blob.bin"), Size: size}
	f, err := os.Create(d.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	whole := sha256.New()
	secLen := size / int64(sections)
	buf := make([]byte, 4<<20)
	for s := 0; s < sections; s++ {
		sec := sha256.New()
		for left := secLen; left > 0; {
			n := min(left, int64(len(buf)))
			_, _ = src.Read(buf[:n])
			if _, err := f.Write(buf[:n]); err != nil {
				return nil, fmt.Errorf("write %s: %w", d.Path, err)
			}
			whole.Write(buf[:n])
			sec.Write(buf[:n])
			left -= n
		}
		d.Sections = append(d.Sections, digestOf(sec))
	}
	d.Size = secLen * int64(sections)
	d.Digest = digestOf(whole)
	if err := f.Sync(); err != nil {
		return nil, err
	}
	d.Image, d.layers = image, layers
	return d, d.NewLayout(dir, 0)
}

// NewLayout replaces the layout by one whose layers' digests are new
// (the round is in the tar entries' names), so no server has seen them:
// the gate's diff_id cache and blob existence checks get nothing for free.
func (d *Data) NewLayout(dir string, round int) error {
	if d.Layout != "" {
		if err := os.RemoveAll(d.Layout); err != nil {
			return err
		}
	}
	d.Layout = filepath.Join(dir, fmt.Sprintf("layout%d", round))
	return d.writeLayout(d.layers, round)
}

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

// writeLayout writes an OCI layout of one image whose layers are
// uncompressed tars (digest = diff_id) each holding one file cut from the data.
func (d *Data) writeLayout(layers, round int) error {
	blobs := filepath.Join(d.Layout, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return err
	}
	per := d.Image / int64(layers)
	var descs []descriptor
	var diffIDs []string
	for i := range layers {
		desc, err := d.writeLayer(blobs, i, round, int64(i)*per, per)
		if err != nil {
			return err
		}
		descs = append(descs, desc)
		diffIDs = append(diffIDs, desc.Digest)
	}
	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux", "config": map[string]any{},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	cfgDesc, err := putBlob(blobs, "application/vnd.oci.image.config.v1+json", cfg)
	if err != nil {
		return err
	}
	man, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": cfgDesc, "layers": descs,
	})
	manDesc, err := putBlob(blobs, "application/vnd.oci.image.manifest.v1+json", man)
	if err != nil {
		return err
	}
	index, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
		"manifests": []descriptor{manDesc},
	})
	if err := os.WriteFile(filepath.Join(d.Layout, "index.json"), index, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(d.Layout, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
}

func (d *Data) writeLayer(blobs string, i, round int, off, n int64) (descriptor, error) {
	tmp := filepath.Join(blobs, fmt.Sprintf("layer%d.tmp", i))
	f, err := os.Create(tmp)
	if err != nil {
		return descriptor{}, err
	}
	defer f.Close()
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	bw := bufio.NewWriterSize(cw, 1<<20)
	tw := tar.NewWriter(bw)
	if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("round%d/data%d.bin", round, i), Mode: 0o644, Size: n, Typeflag: tar.TypeReg}); err != nil {
		return descriptor{}, err
	}
	r, err := d.Open(off, n)
	if err != nil {
		return descriptor{}, err
	}
	defer r.Close()
	if _, err := io.Copy(tw, r); err != nil {
		return descriptor{}, err
	}
	if err := tw.Close(); err != nil {
		return descriptor{}, err
	}
	if err := bw.Flush(); err != nil {
		return descriptor{}, err
	}
	desc := descriptor{MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: digestOf(h), Size: cw.n}
	return desc, os.Rename(tmp, filepath.Join(blobs, desc.Digest[len("sha256:"):]))
}

func putBlob(blobs, mediaType string, b []byte) (descriptor, error) {
	sum := sha256.Sum256(b)
	hx := hex.EncodeToString(sum[:])
	return descriptor{MediaType: mediaType, Digest: "sha256:" + hx, Size: int64(len(b))},
		os.WriteFile(filepath.Join(blobs, hx), b, 0o644)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
