package s3

import (
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"testing"
)

func TestPartSizeGrowth(t *testing.T) {
	const mib = int64(1 << 20)
	for _, tc := range []struct {
		chunk int64
		n     int32
		want  int64
	}{
		{10 * mib, 1, 10 * mib},
		{10 * mib, 1000, 10 * mib},
		{10 * mib, 1001, 20 * mib},
		{10 * mib, 2000, 20 * mib},
		{10 * mib, 2001, 40 * mib},
		{10 * mib, 9001, 10 * mib << 9}, // 5 GiB
		{10 * mib, 10000, MaxPartSize},
		{5 * mib, 10000, 5 * mib << 9},
		{1 << 30, 3001, MaxPartSize}, // 8 GiB capped
		{MaxPartSize, 1, MaxPartSize},
		{10 * mib, 0, 10 * mib},
	} {
		if got := PartSize(tc.chunk, tc.n); got != tc.want {
			t.Errorf("PartSize(%d MiB, %d) = %d MiB, want %d MiB", tc.chunk/mib, tc.n, got/mib, tc.want/mib)
		}
	}
}

func TestPartSizeInvariants(t *testing.T) {
	const tib = int64(1 << 40)
	for _, chunk := range []int64{MinChunkSize, DefaultChunkSize, 64 << 20, MaxPartSize} {
		prev := int64(0)
		for n := int32(1); n <= MaxParts; n++ {
			s := PartSize(chunk, n)
			if s < MinChunkSize || s > MaxPartSize || s < prev {
				t.Fatalf("chunk %d: part %d has size %d (previous %d)", chunk, n, s, prev)
			}
			prev = s
		}
	}
	// 10,000 parts hold what S3 can store (5 TiB) with the default chunk
	// size, and nearly that (4.88 TiB) with the 5 MiB minimum.
	if got := MaxUploadSize(DefaultChunkSize); got < 5*tib {
		t.Errorf("MaxUploadSize(10 MiB) = %d, want ≥ 5 TiB", got)
	}
	if got, want := MaxUploadSize(MinChunkSize), int64(1023000)*MinChunkSize; got != want {
		t.Errorf("MaxUploadSize(5 MiB) = %d, want %d", got, want)
	}
	// A 1 TiB layer with the default chunk size needs fewer than 10,000
	// parts: count them.
	var total int64
	n := int32(0)
	for total < tib {
		n++
		total += PartSize(DefaultChunkSize, n)
	}
	if n > MaxParts {
		t.Errorf("1 TiB needs %d parts", n)
	}
	t.Logf("1 TiB in %d parts of up to %d MiB", n, PartSize(DefaultChunkSize, n)>>20)
}

func TestCompositeChecksum(t *testing.T) {
	a, b := []byte("first part"), []byte("second part")
	sa, sb := sha256.Sum256(a), sha256.Sum256(b)
	outer := sha256.Sum256(append(sa[:], sb[:]...))
	want := base64.StdEncoding.EncodeToString(outer[:]) + "-2"
	got, ok := ChecksumSHA256.composite([]string{ChecksumSHA256.sum(a), ChecksumSHA256.sum(b)})
	if !ok || got != want {
		t.Errorf("composite = %q, %v; want %q", got, ok, want)
	}
	if _, ok := ChecksumSHA256.composite([]string{ChecksumSHA256.sum(a), ""}); ok {
		t.Error("composite with a missing part checksum must not be computed")
	}
	// CRC32C of "123456789" is 0xE3069283.
	if got := ChecksumCRC32C.sum([]byte("123456789")); got != base64.StdEncoding.EncodeToString([]byte{0xe3, 0x06, 0x92, 0x83}) {
		t.Errorf("crc32c = %s", got)
	}
}

func TestDirectoryDiff(t *testing.T) {
	for _, tc := range []struct {
		prev, cur string
		want      []string
	}{
		{"/path/to/folder", "/path/to/folder/folder/file", []string{"/path/to/folder/folder"}},
		{"/path/to/folder/folder1", "/path/to/folder/folder2/file", []string{"/path/to/folder/folder2"}},
		{"/path/to/folder/folder1/file", "/path/to/folder/folder2/file", []string{"/path/to/folder/folder2"}},
		{"/path/to/folder/folder1/file", "/path/to/folder/folder2/folder1/file", []string{"/path/to/folder/folder2", "/path/to/folder/folder2/folder1"}},
		{"/", "/path/to/folder/folder/file", []string{"/path", "/path/to", "/path/to/folder", "/path/to/folder/folder"}},
		{"/a/b", "/a/b/file", nil},
		{"/a/b", "/a/file", nil},
	} {
		if got := directoryDiff(tc.prev, tc.cur); !slices.Equal(got, tc.want) {
			t.Errorf("directoryDiff(%q, %q) = %q, want %q", tc.prev, tc.cur, got, tc.want)
		}
	}
}
