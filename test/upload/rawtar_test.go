package upload

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"testing"
)

// Hand-made tar blocks for what archive/tar's writer refuses to write:
// sparse files and oversized extended headers.

// rawHeader is one tar header block (ustar magic, or the old GNU one for
// gnu) with its checksum.
func rawHeader(name string, size int64, typ byte, gnu bool) []byte {
	b := make([]byte, 512)
	copy(b[0:100], name)
	copy(b[100:108], "0000644\x00")
	copy(b[108:116], "0000000\x00")
	copy(b[116:124], "0000000\x00")
	copy(b[124:136], fmt.Sprintf("%011o\x00", size))
	copy(b[136:148], "00000000000\x00")
	b[156] = typ
	if gnu {
		copy(b[257:265], "ustar  \x00")
	} else {
		copy(b[257:265], "ustar\x0000")
	}
	return checksum(b)
}

// checksum fills in the header block's checksum field.
func checksum(b []byte) []byte {
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// padded is data followed by zeros up to a multiple of 512 bytes.
func padded(data []byte) []byte {
	return append(append([]byte{}, data...), make([]byte, (512-len(data)%512)%512)...)
}

// paxRecord is one "LEN key=value\n" record of a PAX extended header.
func paxRecord(k, v string) string {
	rest := " " + k + "=" + v + "\n"
	n := len(rest) + len(strconv.Itoa(len(rest)))
	if len(strconv.Itoa(n)) != len(strconv.Itoa(len(rest))) {
		n++
	}
	return strconv.Itoa(n) + rest
}

// endOfArchive is the two zero blocks that end a tar.
var endOfArchive = make([]byte, 1024)

// paxSparse is a PAX (GNU 1.0) sparse file of logical size bytes that is
// all hole: a few KiB on the wire, size bytes once Go's reader fills the
// holes.
func paxSparse(name string, size int64) []byte {
	pax := paxRecord("GNU.sparse.major", "1") + paxRecord("GNU.sparse.minor", "0") +
		paxRecord("GNU.sparse.name", name) + paxRecord("GNU.sparse.realsize", strconv.FormatInt(size, 10))
	var b bytes.Buffer
	b.Write(rawHeader("PaxHeaders/"+name, int64(len(pax)), tar.TypeXHeader, false))
	b.Write(padded([]byte(pax)))
	b.Write(rawHeader("GNUSparseFile.0/"+name, 512, tar.TypeReg, false))
	b.Write(padded([]byte("0\n"))) // a sparse map of no data: all hole
	b.Write(endOfArchive)
	return b.Bytes()
}

// gnuSparse is an old-GNU sparse file ('S') of logical size bytes, all hole.
func gnuSparse(name string, size int64) []byte {
	h := rawHeader(name, 0, tar.TypeGNUSparse, true)
	real := h[483:495] // realsize, base-256
	real[0] = 0x80
	binary.BigEndian.PutUint64(real[4:], uint64(size))
	var b bytes.Buffer
	b.Write(checksum(h))
	b.Write(endOfArchive)
	return b.Bytes()
}

// hugePAX is an archive whose first entry has a PAX header of n bytes.
func hugePAX(n int) []byte {
	rec := paxRecord("comment", string(bytes.Repeat([]byte("x"), n)))
	var b bytes.Buffer
	b.Write(rawHeader("PaxHeaders/x", int64(len(rec)), tar.TypeXHeader, false))
	b.Write(padded([]byte(rec)))
	b.Write(rawHeader("x", 0, tar.TypeReg, false))
	b.Write(endOfArchive)
	return b.Bytes()
}

// rearranged rewrites archive with first before its own entries and last
// after them; names in drop are left out.
func rearranged(t testing.TB, archive []byte, first, last []entry, drop ...string) []byte {
	t.Helper()
	entries := append([]entry{}, first...)
	for _, e := range entriesOf(t, archive) {
		skip := false
		for _, d := range drop {
			skip = skip || d == e.name
		}
		if !skip {
			entries = append(entries, e)
		}
	}
	return tarOf(t, append(entries, last...)...)
}

// entriesOf reads the entries of a tar archive.
func entriesOf(t testing.TB, archive []byte) []entry {
	t.Helper()
	var entries []entry
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return entries
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, entry{name: h.Name, data: data, typ: h.Typeflag, link: h.Linkname})
	}
}
