package optimize

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"
)

// counter counts the bytes written through it.
type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// written is what writeLayer measured.
type written struct {
	digest, diff hash.Hash // sha256 of the compressed and of the tar bytes
	size, tar    int64
}

// writeLayer streams new layer out to w compressed with comp: its front
// (kept whiteouts and markers), then every original layer of out read
// again through open (its uncompressed tar), each entry written, renamed,
// relinked or skipped as planned. File contents are copied through
// archive/tar's buffers, never held. An original whose entries differ in
// number from the plan's is an error (the blob changed between reads).
func writeLayer(ctx context.Context, w io.Writer, out *OutLayer, pl *Plan, comp Compression, open func(l int) (io.ReadCloser, error)) (*written, error) {
	res := &written{digest: sha256.New(), diff: sha256.New()}
	var zc, tc counter
	cw, err := comp.compressor(io.MultiWriter(w, res.digest, &zc))
	if err != nil {
		return nil, fmt.Errorf("optimize: starting the compressor: %w", err)
	}
	tw := tar.NewWriter(io.MultiWriter(cw, res.diff, &tc))
	for _, f := range out.front {
		hdr := &tar.Header{Name: f.name(), Typeflag: tar.TypeReg, Mode: 0o644, ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("optimize: writing %s: %w", hdr.Name, err)
		}
	}
	for k, l := range out.Inputs {
		if err := copyLayer(ctx, tw, l, out.actions[k], open); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("optimize: ending the tar: %w", err)
	}
	if err := cw.Close(); err != nil {
		return nil, fmt.Errorf("optimize: ending the compressed stream: %w", err)
	}
	res.size, res.tar = zc.n, tc.n
	return res, nil
}

// copyLayer copies original layer l's entries into tw as actions say.
func copyLayer(ctx context.Context, tw *tar.Writer, l int, actions []action, open func(l int) (io.ReadCloser, error)) error {
	rc, err := open(l)
	if err != nil {
		return fmt.Errorf("optimize: opening layer %d: %w", l+1, err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for i := 0; ; i++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			if i != len(actions) {
				return fmt.Errorf("optimize: layer %d has %d entries, %d when planned", l+1, i, len(actions))
			}
			// Drain the padding so the layer's digest is verified.
			if _, err := io.Copy(io.Discard, rc); err != nil {
				return fmt.Errorf("optimize: reading layer %d: %w", l+1, err)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("optimize: reading layer %d: %w", l+1, err)
		}
		if i >= len(actions) {
			return fmt.Errorf("optimize: layer %d has more entries than when planned", l+1)
		}
		if i%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("optimize: rewriting layer %d: %w", l+1, err)
			}
		}
		a := actions[i]
		switch a.op {
		case opSkip:
			continue
		case opRename:
			hdr.Name, hdr.Format = a.name, tar.FormatUnknown
		case opRelink:
			hdr.Linkname, hdr.Format = a.name, tar.FormatUnknown
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("optimize: layer %d: writing %q: %w", l+1, cut(hdr.Name), err)
		}
		if _, err := io.Copy(tw, tr); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("optimize: layer %d: copying %q: %w", l+1, cut(hdr.Name), err)
		}
	}
}
