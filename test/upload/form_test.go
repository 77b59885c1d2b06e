package upload

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestFormBounds reproduces issue 12, finding 9: the multipart form kept
// every tag field (an unbounded slice), read fields of any number and
// silently cut long ones, and skipped a preamble of any size — none of
// it under upload.maxbytes when the body was chunked. Each bound is now a
// 4xx before the archive is read; the body is sent chunked (no
// Content-Length to refuse early).
func TestFormBounds(t *testing.T) {
	s := start(t, nil)
	archive := dockerSave(t, false, saveImage{img: randomImage(t, 2048, 1)})
	form := func(preamble string, fields ...[2]string) []byte {
		var b bytes.Buffer
		b.WriteString(preamble)
		for _, f := range fields {
			fmt.Fprintf(&b, "--b\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\r\n", f[0], f[1])
		}
		b.WriteString("--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"image.tar\"\r\n\r\n")
		b.Write(archive)
		b.WriteString("\r\n--b--\r\n")
		return b.Bytes()
	}
	tags := make([][2]string, 65)
	for i := range tags {
		tags[i] = [2]string{"tag", fmt.Sprintf("t%d", i)}
	}
	fields := make([][2]string, 73)
	for i := range fields {
		fields[i] = [2]string{fmt.Sprintf("f%d", i), "x"}
	}
	cases := []struct {
		name    string
		body    []byte
		status  int
		message string
	}{
		{"65 tag fields", form("", append([][2]string{{"repository", "team/form"}}, tags...)...), 400, "more than 64 tags"},
		{"a field over 4 KiB", form("", [2]string{"repository", "team/form"}, [2]string{"tag", strings.Repeat("x", 5000)}), 400, "longer than 4096 bytes"},
		{"73 fields before the file", form("", fields...), 400, "more than 72 fields"},
		{"a 300 KiB preamble", form(strings.Repeat("preamble\r\n", 30<<10), [2]string{"repository", "team/form"}), 413, "form before its file part"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			chunked := io.MultiReader(bytes.NewReader(c.body)) // no Content-Length
			r := s.upload(t, "/upload-image", "", chunked, http.Header{"Content-Type": {"multipart/form-data; boundary=b"}})
			if r.Status != c.status || len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, c.message) {
				t.Fatalf("got %d %s, want %d with %q", r.Status, r.Body, c.status, c.message)
			}
			s.assertNothingVisible(t)
		})
	}
	t.Run("bounded form accepted", func(t *testing.T) {
		r := s.upload(t, "/upload-image", "", io.MultiReader(bytes.NewReader(form("", [2]string{"repository", "team/form"}, [2]string{"tag", "1"}))),
			http.Header{"Content-Type": {"multipart/form-data; boundary=b"}})
		if r.Status != http.StatusCreated {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
	})
}
