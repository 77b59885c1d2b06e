package middleware

import (
	"github.com/distribution/distribution/v3/registry/api/errcode"
)

// errNotRecorded answers a push or delete that could not be recorded while
// the metadata store is unreachable (fail-closed): nothing was changed.
func errNotRecorded(action string, cause error) error {
	return errcode.ErrorCodeUnavailable.WithMessage(
		action + " refused: the push record could not be written (metadata store unreachable); nothing was changed — retry later").
		WithDetail(map[string]string{"reason": cause.Error()})
}
