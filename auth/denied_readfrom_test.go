package auth

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestExplainingWriterReadFrom: a body sent with ReadFrom (a blob, by
// sendfile) reaches the client through the explainer, and is dropped, as
// Write's is, once the answer was replaced.
func TestExplainingWriterReadFrom(t *testing.T) {
	rec := httptest.NewRecorder()
	w := &explainingWriter{ResponseWriter: rec, slot: &denialSlot{}}
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, strings.NewReader("blob bytes")); err != nil || rec.Body.String() != "blob bytes" {
		t.Fatalf("body %q (%v)", rec.Body.String(), err)
	}
	rec = httptest.NewRecorder()
	replaced := &explainingWriter{ResponseWriter: rec, slot: &denialSlot{}, replaced: true}
	if _, err := replaced.ReadFrom(strings.NewReader("distribution's own body")); err != nil || rec.Body.Len() != 0 {
		t.Fatalf("a replaced answer got %q (%v)", rec.Body.String(), err)
	}
}
