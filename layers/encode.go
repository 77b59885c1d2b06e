package layers

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// The binary form of a LayerIndex (MarshalBinary), version 1:
//
//	"LIX" 0x01
//	uvarint entries, duplicates, duplicate bytes, unsafe, sample bytes, sample zstd bytes
//	per entry, in index order:
//	  uvarint bytes shared with the previous path, uvarint suffix length, suffix
//	  byte    kind | whiteout<<3 | opaque<<4
//	  uvarint size (regular files that are not whiteouts only)
//
// Paths come sorted, so front coding keeps ~9 bytes per entry of a
// typical layer; Store compresses the whole (store.go). Bytes and Files
// are recomputed on decoding.
const indexMagic = "LIX\x01"

const (
	flagWhiteout = 1 << 3
	flagOpaque   = 1 << 4
	kindMask     = 0x7
)

// errCorrupt is wrapped by every decoding error.
var errCorrupt = errors.New("layers: corrupt layer index")

// MarshalBinary encodes x (encoding.BinaryMarshaler).
func (x *LayerIndex) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 16+len(x.Entries)*12)
	b = append(b, indexMagic...)
	b = binary.AppendUvarint(b, uint64(len(x.Entries)))
	b = binary.AppendUvarint(b, uint64(x.Duplicates))
	b = binary.AppendUvarint(b, uint64(x.DuplicateBytes))
	b = binary.AppendUvarint(b, uint64(x.Unsafe))
	b = binary.AppendUvarint(b, uint64(x.SampleBytes))
	b = binary.AppendUvarint(b, uint64(x.SampleZstdBytes))
	prev := ""
	for _, e := range x.Entries {
		shared := commonPrefix(prev, e.Path)
		b = binary.AppendUvarint(b, uint64(shared))
		b = binary.AppendUvarint(b, uint64(len(e.Path)-shared))
		b = append(b, e.Path[shared:]...)
		flags := byte(e.Kind) & kindMask
		if e.Whiteout {
			flags |= flagWhiteout
		}
		if e.Opaque {
			flags |= flagOpaque
		}
		b = append(b, flags)
		if e.Kind == File && !e.Whiteout {
			b = binary.AppendUvarint(b, uint64(e.Size))
		}
		prev = e.Path
	}
	return b, nil
}

// UnmarshalBinary decodes what MarshalBinary wrote
// (encoding.BinaryUnmarshaler). It checks what an index promises (clean,
// sorted, unique paths; known kinds; sizes that fit) so that a damaged
// cache entry is an error, never a wrong report.
func (x *LayerIndex) UnmarshalBinary(data []byte) error {
	d := decoder{data: data}
	if !bytes.HasPrefix(data, []byte(indexMagic)) {
		return fmt.Errorf("%w: no %q header", errCorrupt, indexMagic)
	}
	d.data = data[len(indexMagic):]
	n := d.uvarint()
	dups, dupBytes, unsafe := d.uvarint(), d.uvarint(), d.uvarint()
	sampled, packed := d.uvarint(), d.uvarint()
	// Every entry takes at least 3 bytes: no count can ask for more
	// memory than the data justifies.
	if d.err != nil || n > uint64(len(d.data))/3 || dups > 1<<40 || dupBytes > 1<<62 || unsafe > 1<<40 ||
		sampled > 1<<62 || packed > 1<<62 {
		return fmt.Errorf("%w: bad header", errCorrupt)
	}
	out := LayerIndex{Entries: make([]Entry, 0, n), Duplicates: int(dups), DuplicateBytes: int64(dupBytes), Unsafe: int(unsafe),
		SampleBytes: int64(sampled), SampleZstdBytes: int64(packed)}
	var prev []byte
	for i := uint64(0); i < n; i++ {
		shared, suffix := d.uvarint(), d.uvarint()
		if d.err != nil || shared > uint64(len(prev)) || suffix > uint64(len(d.data)) {
			return fmt.Errorf("%w: entry %d: bad path lengths", errCorrupt, i)
		}
		p := append(prev[:shared:shared], d.data[:suffix]...)
		d.data = d.data[suffix:]
		flags := d.byte()
		e := Entry{Path: string(p), Kind: Kind(flags & kindMask), Whiteout: flags&flagWhiteout != 0, Opaque: flags&flagOpaque != 0}
		if flags&^(kindMask|flagWhiteout|flagOpaque) != 0 || e.Kind > Other {
			return fmt.Errorf("%w: entry %d: bad flags %#x", errCorrupt, i, flags)
		}
		if e.Kind == File && !e.Whiteout {
			size := d.uvarint()
			if size > 1<<62 {
				return fmt.Errorf("%w: entry %d: bad size", errCorrupt, i)
			}
			e.Size = int64(size)
		}
		if d.err != nil {
			return fmt.Errorf("%w: entry %d: %v", errCorrupt, i, d.err)
		}
		if clean, escaped, ok := cleanName(e.Path); !ok || escaped || clean != e.Path || e.Path == "" {
			return fmt.Errorf("%w: entry %d: unclean path", errCorrupt, i)
		}
		if k := len(out.Entries); k > 0 && compareEntries(out.Entries[k-1], e) >= 0 {
			return fmt.Errorf("%w: entry %d: out of order", errCorrupt, i)
		}
		out.Entries = append(out.Entries, e)
		prev = p
	}
	if len(d.data) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(d.data))
	}
	for _, e := range out.Entries {
		if e.Kind == File && !e.Whiteout {
			out.Bytes += e.Size
			out.Files++
		}
	}
	*x = out
	return nil
}

// commonPrefix is the length of the longest common prefix of a and b.
func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// decoder reads varints and bytes, remembering the first error.
type decoder struct {
	data []byte
	err  error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.data)
	if n <= 0 {
		d.err = errors.New("bad varint")
		return 0
	}
	d.data = d.data[n:]
	return v
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.data) == 0 {
		d.err = errors.New("truncated")
		return 0
	}
	c := d.data[0]
	d.data = d.data[1:]
	return c
}
