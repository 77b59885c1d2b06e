// Package benchdata generates the inputs of the benches: `docker save`
// tarballs of compressible (text-like) or incompressible (random) layers,
// streamed to a file. cmd/imagegate-bench (the tarball door's rows) and
// test/upload's BenchmarkUpload upload the same bytes.
package benchdata

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
)

// Shape of the generated image: layers of 2 MiB files, 64 to a layer
// (128 MiB layers) from 512 MiB on; smaller tarballs get fewer files per
// layer (at least one), so that a smoke run still has several layers.
const (
	FileSize      = 2 << 20
	FilesPerLayer = 64
	textSize      = 8 << 20
)

// Tag is the repository tag the generated tarball's manifest names.
const Tag = "bench/app:1"

// WriteDockerSave writes a `docker save` tarball (legacy layout: one
// layer.tar per layer, a config whose diff_ids are the layers' sha256,
// manifest.json) of about size bytes to path, streaming (memory stays
// below 16 MiB whatever the size). The layers are plain tars of files
// of text-like words (gzip: about 3:1) or, when random, of ChaCha8 bytes
// (incompressible). The content is the same for the same arguments.
func WriteDockerSave(path string, size int64, random bool) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("benchdata: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err = writeDockerSave(bw, size, random)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("benchdata: writing %s: %w", path, err)
	}
	return nil
}

// filesPerLayer is the number of files of each layer of a tarball of size bytes.
func filesPerLayer(size int64) int {
	return int(min(max(size/(4*FileSize), 1), FilesPerLayer))
}

// layerSize is the size of a layer tar of n files: a 512-byte header per
// file, the files (multiples of 512), two zero blocks at the end.
func layerSize(n int) int64 { return int64(n)*(512+FileSize) + 1024 }

func writeDockerSave(w io.Writer, size int64, random bool) error {
	tw := tar.NewWriter(w)
	text := words(textSize)
	rnd := rand.NewChaCha8([32]byte{'i', 'g'})
	noise := make([]byte, FileSize)
	files := filesPerLayer(size)
	layers := int(max(size/layerSize(files), 1))
	var diffIDs, paths []string
	for l := range layers {
		h := sha256.New()
		name := fmt.Sprintf("layer%03d/layer.tar", l)
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: layerSize(files), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}); err != nil {
			return err
		}
		inner := tar.NewWriter(io.MultiWriter(tw, h))
		for i := range files {
			if err := inner.WriteHeader(&tar.Header{Name: fmt.Sprintf("d/f%03d", i), Mode: 0o644, Size: FileSize,
				Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}); err != nil {
				return err
			}
			// Slices of one text at scattered offsets (the offsets of the
			// measurements of 2026-12-03, at 64 files a layer).
			off := ((l*FilesPerLayer + i) * 7919 * 4099) % (len(text) - FileSize)
			content := text[off : off+FileSize]
			if random {
				_, _ = rnd.Read(noise)
				content = noise
			}
			if _, err := inner.Write(content); err != nil {
				return err
			}
		}
		if err := inner.Close(); err != nil {
			return err
		}
		diffIDs = append(diffIDs, "sha256:"+hex.EncodeToString(h.Sum(nil)))
		paths = append(paths, name)
	}
	config, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}, "config": map[string]any{}})
	cfgName := fmt.Sprintf("%x.json", sha256.Sum256(config))
	manifest, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{Tag}, "Layers": paths}})
	for _, e := range []struct {
		name string
		data []byte
	}{{cfgName, config}, {"manifest.json", manifest}} {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(e.data); err != nil {
			return err
		}
	}
	return tw.Close()
}

// words is n bytes of words: compresses about 3:1, like file system trees.
func words(n int) []byte {
	vocabulary := strings.Fields("the of and to in is it that for on with as was by at be this from or an are not have but were " +
		"all which one can there has more their if will would so its into what some them other than then these two may " +
		"func return err nil string int byte struct package import const var type interface map chan select defer go")
	out := make([]byte, 0, n+16)
	x := uint64(2463534242)
	for len(out) < n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		out = append(out, vocabulary[x%uint64(len(vocabulary))]...)
		if x%11 == 0 {
			out = append(out, '\n')
		} else {
			out = append(out, ' ')
		}
		if x%97 == 0 {
			out = strconv.AppendUint(out, x%100000, 10)
		}
	}
	return out[:n]
}
