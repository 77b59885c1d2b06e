package optimize

import (
	"context"
	"errors"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The small name spaces fuzzed images draw from, so that layers
// collide (overwrite, delete, re-create, link) and mostly stay valid:
// files and links at leaves, directories above them, "g" both.
var (
	fuzzLeaves = []string{"a/b/c", "a/d", "e/f", "g", "a/b/h"}
	fuzzDirs   = []string{"a", "a/b", "e", "g"}
	fuzzAll    = append(append([]string{}, fuzzLeaves...), fuzzDirs...)
)

// fuzzImage decodes data into layers: each byte pair is an operation
// (file, directory, symlink, hard link to another leaf, whiteout, opaque
// marker) or starts a new layer.
func fuzzImage(t *testing.T, data []byte) v1.Image {
	var ls [][]ent
	var cur []ent
	for i := 0; i+1 < len(data) && len(ls) < 6; i += 2 {
		op, b := data[i]%8, int(data[i+1])
		leaf, dirp, any := fuzzLeaves[b%len(fuzzLeaves)], fuzzDirs[b%len(fuzzDirs)], fuzzAll[b%len(fuzzAll)]
		other := fuzzLeaves[(b/8)%len(fuzzLeaves)]
		switch op {
		case 0, 1:
			cur = append(cur, file(leaf, b*7, uint64(i)).owned(int(op), 0))
		case 2:
			cur = append(cur, dir(dirp, 0o700+int64(b%2)*0o55))
		case 3:
			cur = append(cur, symlink(leaf, other))
		case 4:
			cur = append(cur, hardlink(leaf, other))
		case 5:
			cur = append(cur, whiteout(any))
		case 6:
			cur = append(cur, opaque(dirp))
		case 7:
			ls = append(ls, cur)
			cur = nil
		}
	}
	ls = append(ls, cur)
	return image(t, ls...)
}

// hasHardlink says fuzzImage(data) has a hard link.
func hasHardlink(data []byte) bool {
	for i := 0; i+1 < len(data); i += 2 {
		if data[i]%8 == 4 {
			return true
		}
	}
	return false
}

// FuzzOptimize: for any image of colliding operations, Optimize either
// refuses it with an error (a hard link to nothing, a path below a
// file, a shape verify rejects) or builds one that Docker's way of
// applying layers flattens to the same file system, with no hidden bytes
// left but hard links' targets. Never a panic. Run it bounded: -fuzztime 20s.
func FuzzOptimize(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 7, 0, 5, 1})             // file, file below it, then deleted
	f.Add([]byte{2, 0, 0, 1, 0, 3, 7, 0, 6, 0, 0, 6}) // directory, opaque, new child
	f.Add([]byte{0, 4, 4, 0x22, 7, 0, 0, 4})          // hard link, target overwritten
	f.Add([]byte{0, 4, 4, 0x22, 7, 0, 5, 4, 7, 0, 2, 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64 {
			return
		}
		img := fuzzImage(t, data)
		for _, o := range []Options{{}, {Squash: []Range{{All: true}}}, {Squash: []Range{{First: 1, Last: 2}}}} {
			o.TempDir = t.TempDir()
			res, err := Optimize(context.Background(), img, o)
			if err != nil {
				var ve *VerifyError
				if errors.As(err, &ve) {
					t.Logf("refused by verify: %v", err)
				}
				continue
			}
			diffFS(t, "applied", applyFS(t, img), applyFS(t, res.Image))
			// A hard link to a file of a lower layer keeps that file even
			// when a later layer hides its path (layers.Analyze, which
			// knows no hard links, counts it hidden).
			if r := analyze(t, res.Image); r.HiddenBytes != 0 && !hasHardlink(data) {
				t.Errorf("hidden bytes left: %d", r.HiddenBytes)
			}
			res.Close()
		}
	})
}
