package shim

import (
	"errors"
	"strings"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
)

// isCodeError reports whether err carries an OCI error code.
func isCodeError(err error) bool {
	var e errcode.Error
	var c errcode.ErrorCode
	return errors.As(err, &e) || errors.As(err, &c)
}

// isDecoderError reports whether err is a decompressor's complaint about
// its input.
func isDecoderError(err error) bool {
	var ce flate.CorruptInputError
	var cs corruptStream
	if errors.As(err, &ce) || errors.As(err, &cs) {
		return true
	}
	for _, z := range []error{zstd.ErrMagicMismatch, zstd.ErrReservedBlockType, zstd.ErrCompressedSizeTooBig,
		zstd.ErrBlockTooSmall, zstd.ErrWindowSizeExceeded, zstd.ErrWindowSizeTooSmall, zstd.ErrDecoderSizeExceeded,
		zstd.ErrCRCMismatch, zstd.ErrFrameSizeMismatch, zstd.ErrUnknownDictionary} {
		if errors.Is(err, z) {
			return true
		}
	}
	return strings.Contains(err.Error(), "flate: corrupt input") || strings.Contains(err.Error(), "zstd")
}
