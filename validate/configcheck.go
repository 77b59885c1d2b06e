package validate

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/imagegate/imagegate/internal/imageconfig"
)

// maxConfigBytes bounds the image config read into memory.
const maxConfigBytes = 8 << 20

// checkConfig reads the image config — exactly its declared size, held
// in the validator's config budget meanwhile — and decodes what the gate
// reads of it (decodeConfig): it must be an image config of a bounded
// platform and bounded lists (CheckConfigEntries) whose rootfs lists one
// diff_id per layer. The bytes stay in
// res.RawConfig, and in the budget until res.Release, only when
// m.KeepConfig asks for them.
func (v *Validator) checkConfig(ctx context.Context, res *Result, blobs Blobs, m Manifest) error {
	c := res.Shape.Config
	if c.Size > maxConfigBytes {
		return denied(fmt.Sprintf("image config is %d bytes; at most %d are accepted", c.Size, maxConfigBytes), nil)
	}
	release, err := v.budget.hold(ctx, c.Size)
	if err != nil {
		return err
	}
	kept := false
	defer func() {
		if !kept {
			release()
		}
	}()
	raw, err := readConfig(ctx, blobs, res.Shape)
	if err != nil {
		return err
	}
	layers := len(res.Shape.Layers)
	img, err := decodeConfig(raw, layers, v.wantedLabels(m.Repository))
	if err != nil {
		return invalid("image config is not valid JSON", map[string]string{"digest": c.Digest.String(), "error": err.Error()})
	}
	if err := CheckConfigEntries(raw); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		p    platformStr
	}{{"os", img.OS}, {"architecture", img.Architecture}, {"variant", img.Variant}} {
		if err := checkPlatformField("image config", f.name, f.p.n); err != nil {
			return err
		}
	}
	if img.RootFS.Type != "layers" {
		return invalid(fmt.Sprintf("image config rootfs.type is %q; it must be \"layers\"", img.RootFS.Type), nil)
	}
	if n := img.RootFS.DiffIDs.count; n != layers {
		return invalid(fmt.Sprintf("image config lists %d diff_ids but the manifest has %d layers", n, layers),
			map[string]int{"diff_ids": n, "layers": layers})
	}
	// The same bytes, as a stream (a bytes.Buffer is parsed in place):
	// the history entries that made a layer, commands cut.
	history, err := imageconfig.ReadHistory(bytes.NewBuffer(raw), layers)
	if err != nil { // the config decoded above: it cannot be invalid here
		return invalid("image config history cannot be read", map[string]string{"digest": c.Digest.String(), "error": err.Error()})
	}
	res.Config = &Config{OS: img.OS.s, Architecture: img.Architecture.s, Variant: img.Variant.s,
		DiffIDs: img.RootFS.DiffIDs.ids, Labels: img.Config.Labels.found, History: history}
	if m.KeepConfig {
		res.RawConfig, res.release, kept = raw, sync.OnceFunc(release), true
	}
	return nil
}

// readConfig reads the config blob s names: exactly its declared size,
// which checkBlobs found it has.
func readConfig(ctx context.Context, blobs Blobs, s Shape) ([]byte, error) {
	c := s.Config
	rc, err := blobs.Open(ctx, c.Digest)
	if err != nil {
		return nil, fmt.Errorf("validate: opening config %s: %w", c.Digest, err)
	}
	defer rc.Close()
	raw := make([]byte, c.Size)
	if _, err := io.ReadFull(rc, raw); err != nil {
		return nil, fmt.Errorf("validate: reading config %s: %w", c.Digest, err)
	}
	return raw, nil
}

// wantedLabels are the labels the lint rules for repo require: the only
// ones the gate keeps of a config.
func (v *Validator) wantedLabels(repo string) map[string]bool {
	var want map[string]bool
	for _, r := range v.lint {
		if !r.pattern.Match(repo) {
			continue
		}
		for _, l := range r.Labels {
			if want == nil {
				want = map[string]bool{}
			}
			want[l] = true
		}
	}
	return want
}

// Release drops RawConfig and gives its bytes back to the validator's
// config budget. It may be called more than once, and on a result that
// kept nothing.
func (r *Result) Release() {
	if r == nil {
		return
	}
	r.RawConfig = nil
	if r.release != nil {
		r.release()
	}
}
