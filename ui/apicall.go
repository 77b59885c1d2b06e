package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// apiResponse collects an in-process API answer.
type apiResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (a *apiResponse) Header() http.Header { return a.header }
func (a *apiResponse) WriteHeader(status int) {
	if a.status == 0 {
		a.status = status
	}
}
func (a *apiResponse) Write(p []byte) (int, error) {
	a.WriteHeader(http.StatusOK)
	return a.body.Write(p)
}

// apiError is an API answer other than 200: its status and the message
// of its OCI error body.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("api: %d %s: %s", e.Status, e.Code, e.Message) }

// callAPI asks the API GET path?query as s's caller — the very handler a
// script would reach at /api/v1, with the same authorization — and
// decodes a 200 answer into out. Any other answer is an *apiError.
func (h *Handler) callAPI(r *http.Request, s *session, path string, query url.Values, out any) error {
	u := path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	return h.sendAPI(r, s, http.MethodGet, u, nil, http.StatusOK, out)
}

// sendAPI sends method u to the API as s's caller, with body (if not nil)
// as JSON, and decodes an answer of status want into out (nil: none is
// read). Any other answer is an *apiError.
func (h *Handler) sendAPI(r *http.Request, s *session, method, u string, body any, want int, out any) error {
	var payload io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("ui: encoding %s %s: %w", method, u, err)
		}
		payload = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(r.Context(), method, u, payload)
	if err != nil {
		return fmt.Errorf("ui: api request %s: %w", u, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp := &apiResponse{header: http.Header{}}
	h.opts.API.ServeAs(resp, req, s.caller)
	if resp.status == want {
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(resp.body.Bytes(), out); err != nil {
			return fmt.Errorf("ui: decoding %s: %w", u, err)
		}
		return nil
	}
	var answer struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	e := &apiError{Status: resp.status}
	if json.Unmarshal(resp.body.Bytes(), &answer) == nil && len(answer.Errors) > 0 {
		e.Code, e.Message = answer.Errors[0].Code, answer.Errors[0].Message
	}
	return e
}
