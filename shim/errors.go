package shim

import (
	"fmt"
	"net/http"

	"github.com/distribution/distribution/v3/registry/api/errcode"

	"github.com/imagegate/imagegate/layers"
)

var (
	// ErrTarballInvalid answers an archive that is not a usable image
	// tarball; its message names what is wrong.
	ErrTarballInvalid = errcode.Register("imagegate", errcode.ErrorDescriptor{
		Value:          "TARBALL_INVALID",
		Message:        "the uploaded archive is not a valid image tarball",
		Description:    "The body of an image upload is not a docker-save or OCI-layout tar (optionally gzip or zstd), or it is malformed or unsafe.",
		HTTPStatusCode: http.StatusBadRequest,
	})

	// ErrUploadTooLarge answers an upload over one of the upload limits.
	ErrUploadTooLarge = errcode.Register("imagegate", errcode.ErrorDescriptor{
		Value:          "UPLOAD_TOO_LARGE",
		Message:        "the upload exceeds a limit of this registry",
		Description:    "The image upload is larger than upload.maxbytes, decompresses to more than upload.maxdecompressedbytes, or exceeds upload.maxratio or upload.maxentries.",
		HTTPStatusCode: http.StatusRequestEntityTooLarge,
	})

	// ErrUploadUnknown answers a progress query for an unknown upload id.
	ErrUploadUnknown = errcode.Register("imagegate", errcode.ErrorDescriptor{
		Value:          "UPLOAD_UNKNOWN",
		Message:        "no such upload",
		Description:    "No upload with this id is known to this replica (progress is kept in memory for a while after an upload ends).",
		HTTPStatusCode: http.StatusNotFound,
	})

	// ErrUploadInvalid answers a malformed upload request (query, headers).
	ErrUploadInvalid = errcode.Register("imagegate", errcode.ErrorDescriptor{
		Value:          "UPLOAD_INVALID",
		Message:        "invalid upload request",
		Description:    "A query parameter or header of an image upload request is malformed.",
		HTTPStatusCode: http.StatusBadRequest,
	})
)

// invalid is a TARBALL_INVALID error with a specific message.
func invalid(format string, args ...any) errcode.Error {
	return ErrTarballInvalid.WithMessage(fmt.Sprintf(format, args...))
}

// sizeText is n bytes for a person and exactly: "2.1 MB (2097152 bytes)".
func sizeText(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%s (%d bytes)", layers.HumanBytes(n), n)
}

// tooLarge is an UPLOAD_TOO_LARGE error with a specific message.
func tooLarge(format string, args ...any) errcode.Error {
	return ErrUploadTooLarge.WithMessage(fmt.Sprintf(format, args...))
}
