// Package errcodes registers imagegate's own OCI error codes with
// distribution's errcode registry, once, each with its HTTP status, and
// serves OCI error bodies ({"errors":[{code,message,detail}]}).
package errcodes

import (
	"net/http"

	"github.com/distribution/distribution/v3/registry/api/errcode"
)

const group = "imagegate"

var (
	// NotFound answers a path that is no registry endpoint.
	NotFound = errcode.Register(group, errcode.ErrorDescriptor{
		Value:          "NOT_FOUND",
		Message:        "no such endpoint",
		Description:    "The path names no endpoint of this registry.",
		HTTPStatusCode: http.StatusNotFound,
	})

	// ManifestTooLarge answers a manifest body over limits.manifestbytes.
	ManifestTooLarge = errcode.Register(group, errcode.ErrorDescriptor{
		Value:          "MANIFEST_TOO_LARGE",
		Message:        "manifest is larger than this registry accepts",
		Description:    "The manifest body exceeds the configured limit (limits.manifestbytes).",
		HTTPStatusCode: http.StatusRequestEntityTooLarge,
	})
	// BodyTimeout answers a request whose body sent nothing for
	// http.bodyidletimeout.
	BodyTimeout = errcode.Register(group, errcode.ErrorDescriptor{
		Value:          "BODY_TIMEOUT",
		Message:        "the request body stopped arriving",
		Description:    "The client sent no byte of the request body for longer than the configured limit (http.bodyidletimeout).",
		HTTPStatusCode: http.StatusRequestTimeout,
	})
)

var (
	// QueryInvalid answers an /api/v1 query with a malformed parameter.
	QueryInvalid = errcode.Register(group, errcode.ErrorDescriptor{
		Value:          "QUERY_INVALID",
		Message:        "invalid query parameter",
		Description:    "A query parameter of an imagegate API request is malformed.",
		HTTPStatusCode: http.StatusBadRequest,
	})

	// RecordUnknown answers a query for records that do not exist.
	RecordUnknown = errcode.Register(group, errcode.ErrorDescriptor{
		Value:          "RECORD_UNKNOWN",
		Message:        "no push record matches",
		Description:    "No push record exists for the requested repository and digest.",
		HTTPStatusCode: http.StatusNotFound,
	})

	// MetadataUnavailable answers a query while the metadata store is unreachable.
	MetadataUnavailable = errcode.Register(group, errcode.ErrorDescriptor{
		Value:          "METADATA_UNAVAILABLE",
		Message:        "the metadata store is unreachable; try again later",
		Description:    "The push records cannot be read right now.",
		HTTPStatusCode: http.StatusServiceUnavailable,
	})
)

// Serve writes err as an OCI error body. errcode.Error and errcode.ErrorCode
// values carry their own status; any other error becomes a 500 UNKNOWN, so
// callers pass only registered codes for client mistakes.
func Serve(w http.ResponseWriter, err error) {
	_ = errcode.ServeJSON(w, err)
}
