package s3

// partsPerDoubling is how many parts share one part size before it doubles.
const partsPerDoubling = 1000

// PartSize returns the size of part number n (1-based) of an upload whose
// first parts are chunkSize bytes: chunkSize for parts 1–1000, twice that
// for 1001–2000, and so on, capped at 5 GiB. The size of a layer is unknown
// when its upload starts; growing the parts keeps any layer up to
// MaxUploadSize(chunkSize) within S3's 10,000 parts while small layers keep
// small buffers. It depends only on n, so a writer resumed elsewhere
// continues with the same sizes.
func PartSize(chunkSize int64, n int32) int64 {
	if n < 1 {
		n = 1
	}
	shift := (n - 1) / partsPerDoubling
	if shift >= 30 || chunkSize<<shift > MaxPartSize {
		return MaxPartSize
	}
	return chunkSize << shift
}

// MaxUploadSize returns the largest object a writer can store with parts of
// PartSize(chunkSize, 1…10000): 1,023,000 × chunkSize without the 5 GiB cap
// (about 4.9 TiB for 5 MiB chunks, 9.8 TiB for 10 MiB).
func MaxUploadSize(chunkSize int64) int64 {
	var total int64
	for n := int32(1); n <= MaxParts; n++ {
		total += PartSize(chunkSize, n)
	}
	return total
}
