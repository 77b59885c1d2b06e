package diffid

import "bytes"

// SniffBytes is how much of a blob's start Sniff looks at: one tar block.
const SniffBytes = 512

// Sniff names how a layer blob starting with head is stored, as detected
// from its first bytes (the way containerd and go-containerregistry
// detect it): Gzip, Zstd, None for a tar (a POSIX or GNU header, or an
// empty archive: its zero end blocks), "" for anything else (an image
// config, an artifact's blob). head should hold the blob's first
// SniffBytes bytes, or all of a shorter blob.
func Sniff(head []byte) Compression {
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		return Gzip
	case bytes.HasPrefix(head, zstdMagic):
		return Zstd
	case IsTarHeader(head):
		return None
	case len(head) >= SniffBytes && bytes.Count(head[:SniffBytes], []byte{0}) == SniffBytes:
		return None
	}
	return ""
}

// IsTarHeader reports whether block starts like a POSIX or GNU tar
// header (the "ustar" magic at offset 257).
func IsTarHeader(block []byte) bool {
	return len(block) >= 262 && string(block[257:262]) == "ustar"
}
