package registry

import (
	"encoding/json"
	"net/http"
)

// maxErrorBody bounds the part of an error answer kept to read its OCI
// error code: an error body is small JSON; anything longer is not parsed.
const maxErrorBody = 4 << 10

// errorBody keeps the start of a response body when the status is an
// error (≥ 400), for errorCode.
type errorBody struct {
	buf      []byte
	overflow bool
}

// keep appends p while the kept part stays within maxErrorBody.
func (b *errorBody) keep(p []byte) {
	if b.overflow {
		return
	}
	if len(b.buf)+len(p) > maxErrorBody {
		b.overflow, b.buf = true, nil
		return
	}
	b.buf = append(b.buf, p...)
}

// code is the first OCI error code of the kept body ({"errors":[{"code":
// …}]}), at most 64 characters; "" when the body is not such JSON.
func (b *errorBody) code() string {
	if b.overflow || len(b.buf) == 0 {
		return ""
	}
	var body struct {
		Errors []struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	if json.Unmarshal(b.buf, &body) != nil || len(body.Errors) == 0 {
		return ""
	}
	code := body.Errors[0].Code
	if len(code) > 64 {
		code = code[:64]
	}
	return code
}

// isError reports whether status is an error answer worth reading.
func isError(status int) bool { return status >= http.StatusBadRequest }
