package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/imagegate/imagegate/pushclient"
)

// apiError is an error answer of the server's API or token service: its
// HTTP status and the OCI errors of its body.
type apiError struct {
	Status int                   `json:"status"`
	Errors []pushclient.OCIError `json:"errors"`
}

// newAPIError reads the error answer of status with body; a body that is
// not an OCI error JSON becomes one UNKNOWN error holding its first line.
func newAPIError(status int, body []byte) *apiError {
	e := &apiError{Status: status}
	var oci struct {
		Errors []pushclient.OCIError `json:"errors"`
	}
	if json.Unmarshal(body, &oci) == nil && len(oci.Errors) > 0 {
		e.Errors = oci.Errors
		return e
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	if len(line) > 200 {
		line = line[:200] + "…"
	}
	if line != "" {
		e.Errors = []pushclient.OCIError{{Code: "UNKNOWN", Message: line}}
	}
	return e
}

// Error is "HTTP 404 Not Found: CODE: message (detail); CODE: …".
func (e *apiError) Error() string {
	s := fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
	parts := make([]string, len(e.Errors))
	for i, o := range e.Errors {
		parts[i] = describeOCIError(o)
	}
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, "; ")
	}
	return s
}

// describeOCIError is "CODE: message (detail)": a string detail as it is,
// any other as compact JSON; an empty message or detail is left out.
func describeOCIError(o pushclient.OCIError) string {
	s := o.Code
	if o.Message != "" {
		s += ": " + o.Message
	}
	if d := describeDetail(o.Detail); d != "" {
		s += " (" + d + ")"
	}
	return s
}

func describeDetail(raw json.RawMessage) string {
	var str string
	if json.Unmarshal(raw, &str) == nil {
		return str
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil || b.String() == "null" {
		return ""
	}
	return b.String()
}

// writeJSONError prints err on w as one JSON object, for --json: an
// apiError as {"status":…,"errors":[…]} (the server's OCI errors), any
// other as {"error":{"message":…}}, as push does.
func writeJSONError(w io.Writer, err error) {
	var api *apiError
	if errors.As(err, &api) {
		_ = json.NewEncoder(w).Encode(api)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"message": err.Error()}})
}
