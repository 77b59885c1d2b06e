package middleware

import (
	"github.com/distribution/distribution/v3/registry/api/errcode"
)

// errNotRecorded answers a delete that could not be recorded while the
// metadata store is unreachable (fail-closed): nothing was changed.
func errNotRecorded(action string, cause error) error {
	return errcode.ErrorCodeUnavailable.WithMessage(
		action + " refused: the record could not be written (metadata store unreachable); nothing was changed — retry later").
		WithDetail(map[string]string{"reason": cause.Error()})
}

// errBypass answers a manifest or tag write that reached distribution's
// handlers instead of the push pipeline: never stored.
var errBypass = errcode.ErrorCodeUnsupported.WithMessage("manifests are stored only through the push gate")
