package readfrom

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// readerFromWriter records whether its ReadFrom was used.
type readerFromWriter struct {
	bytes.Buffer
	readFrom bool
}

func (w *readerFromWriter) ReadFrom(r io.Reader) (int64, error) {
	w.readFrom = true
	return w.Buffer.ReadFrom(r)
}

// plainWriter has Write alone (no ReadFrom promoted from its buffer).
type plainWriter struct{ buf bytes.Buffer }

func (w *plainWriter) Write(p []byte) (int, error) { return w.buf.Write(p) }
func (w *plainWriter) String() string              { return w.buf.String() }

func TestThroughUsesTheWrappedReadFrom(t *testing.T) {
	w := &readerFromWriter{}
	n, err := Through(w, strings.NewReader("hello"))
	if err != nil || n != 5 || w.String() != "hello" || !w.readFrom {
		t.Fatalf("Through = %d, %v; wrote %q, ReadFrom used: %t", n, err, w.String(), w.readFrom)
	}
}

func TestThroughCopiesWithoutReadFrom(t *testing.T) {
	w := &plainWriter{}
	n, err := Through(w, strings.NewReader("hello"))
	if err != nil || n != 5 || w.String() != "hello" {
		t.Fatalf("Through = %d, %v; wrote %q", n, err, w.String())
	}
}
