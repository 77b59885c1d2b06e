package pushclient

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// RemoteError is the server's refusal of an upload: its HTTP status and
// the OCI errors of its body.
type RemoteError struct {
	UploadID string     `json:"upload_id"`
	Status   int        `json:"status"`
	Errors   []OCIError `json:"errors"`
}

// OCIError is one entry of an OCI error body.
type OCIError struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Detail  json.RawMessage `json:"detail,omitempty"`
}

func (e *RemoteError) Error() string {
	var parts []string
	for _, o := range e.Errors {
		s := o.Code
		if o.Message != "" {
			s += ": " + o.Message
		}
		parts = append(parts, s)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), strings.Join(parts, "; "))
}

// Refused reports whether the server refused the upload's content or the
// caller (4xx), as opposed to failing (5xx).
func (e *RemoteError) Refused() bool { return e.Status >= 400 && e.Status < 500 }

func remoteError(resp *http.Response, data []byte, id string) *RemoteError {
	e := &RemoteError{UploadID: id, Status: resp.StatusCode}
	if got := resp.Header.Get(HeaderUploadID); got != "" {
		e.UploadID = got
	}
	var body struct {
		Errors []OCIError `json:"errors"`
	}
	if json.Unmarshal(data, &body) == nil && len(body.Errors) > 0 {
		e.Errors = body.Errors
		return e
	}
	e.Errors = []OCIError{{Code: "UNKNOWN", Message: trimmed(data)}}
	return e
}
