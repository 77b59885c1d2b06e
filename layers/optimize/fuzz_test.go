package optimize

import (
	"context"
	"errors"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// fuzzPaths is the small name space fuzzed images draw from, so that
// layers collide: overwrite, delete, re-create, link.
var fuzzPaths = []string{"a", "a/b", "a/b/c", "a/d", "e", "e/f", "g"}

// fuzzImage decodes data into layers: each byte pair is an operation on
// one of fuzzPaths (file, directory, symlink, hard link to another path,
// whiteout, opaque marker) or starts a new layer.
func fuzzImage(t *testing.T, data []byte) v1.Image {
	var ls [][]ent
	var cur []ent
	for i := 0; i+1 < len(data) && len(ls) < 6; i += 2 {
		op, p := data[i]%8, fuzzPaths[int(data[i+1])%len(fuzzPaths)]
		other := fuzzPaths[int(data[i+1]/8)%len(fuzzPaths)]
		switch op {
		case 0, 1:
			cur = append(cur, file(p, int(data[i+1])*7, uint64(i)).owned(int(op), 0))
		case 2:
			cur = append(cur, dir(p, 0o700+int64(data[i+1]%2)*0o55))
		case 3:
			cur = append(cur, symlink(p, other))
		case 4:
			cur = append(cur, hardlink(p, other))
		case 5:
			cur = append(cur, whiteout(p))
		case 6:
			cur = append(cur, opaque(p))
		case 7:
			ls = append(ls, cur)
			cur = nil
		}
	}
	ls = append(ls, cur)
	return image(t, ls...)
}

// FuzzOptimize: for any image of colliding operations, Optimize either
// refuses it with an error (a hard link to nothing, a path below a
// file, a shape verify rejects) or builds one that Docker's way of
// applying layers flattens to the same file system, with no hidden bytes
// left. Never a panic. Run it bounded: -fuzztime 20s.
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
		for _, o := range []Options{{}, {Squash: []Range{{All: true}}}} {
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
			if r := analyze(t, res.Image); r.HiddenBytes != 0 {
				t.Errorf("hidden bytes left: %d", r.HiddenBytes)
			}
			res.Close()
		}
	})
}
