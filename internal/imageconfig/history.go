package imageconfig

import (
	"io"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// MaxHistoryBytes bounds the history commands ReadHistory keeps, in all:
// past it, a command is only "… (N bytes)".
const MaxHistoryBytes = 1 << 20

// ReadHistory reads, as a stream, the history entries of the config r
// holds that made a layer (not empty_layer), the first layers of them,
// in order — what pairs each layer with its command. Each keeps only its
// command, cut to MaxCommand bytes and within MaxHistoryBytes in all
// ("… (N bytes)" when cut). Errors are Read's.
func ReadHistory(r io.Reader, layers int) ([]v1.History, error) {
	d := newDecoder(r)
	var out []v1.History
	left := MaxHistoryBytes
	err := d.object(func(name []byte) error {
		if !is(name, "history") {
			return d.skip()
		}
		out = nil // the last "history" wins, as in encoding/json
		left = MaxHistoryBytes
		return d.array(func() error {
			if len(out) == layers {
				return d.skip()
			}
			var h v1.History
			var whole int // the command's length, before cutting
			err := d.object(func(name []byte) error {
				var err error
				switch {
				case is(name, "created_by"):
					var b []byte
					b, err = d.str()
					h.CreatedBy, whole = cutAt(b, min(MaxCommand, left)), len(b)
				case is(name, "empty_layer"):
					h.EmptyLayer, err = d.boolean()
				default:
					err = d.skip()
				}
				return err
			})
			if err != nil || h.EmptyLayer {
				return err
			}
			left -= min(left, whole, MaxCommand)
			out = append(out, h)
			return nil
		})
	})
	if err != nil {
		return nil, d.fail(err)
	}
	return out, nil
}
