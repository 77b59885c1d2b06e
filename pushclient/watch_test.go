package pushclient

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestStreamBoundsAnEvent: a server whose event never ends (data lines
// without the blank line that closes an event) is no longer followed once
// the event passes maxEventBytes, instead of being buffered without end;
// well-formed statuses are reported.
func TestStreamBoundsAnEvent(t *testing.T) {
	line := "data: " + strings.Repeat("x", 32<<10) + "\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"id\":\"u\",\"stage\":\"unpacking\"}\n\n")
		if r.URL.Query().Has("endless") {
			for i := 0; i*len(line) <= 2*maxEventBytes && r.Context().Err() == nil; i++ {
				fmt.Fprint(w, line)
			}
			fmt.Fprint(w, "\n")
		}
		fmt.Fprint(w, "data: {\"id\":\"u\",\"stage\":\"done\"}\n\n")
	}))
	defer srv.Close()

	var stages []string
	rep := newReporter(Options{UploadID: "u", Size: -1, OnProgress: func(p Progress) {
		if p.Server != nil {
			stages = append(stages, p.Server.Stage)
		}
	}})
	if !stream(context.Background(), srv.Client(), srv.URL, Options{}, rep) || strings.Join(stages, ",") != "unpacking,done" {
		t.Fatalf("a well-formed stream reported %v", stages)
	}
	stages = nil
	if !stream(context.Background(), srv.Client(), srv.URL+"?endless", Options{}, rep) {
		t.Fatal("the stream of an endless event is to be given up, not retried")
	}
	if strings.Join(stages, ",") != "unpacking" {
		t.Fatalf("an endless event was followed to its end: %v", stages)
	}
}
