package shim

import (
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"strings"
)

// Bounds of what an upload request may name besides the archive: tags
// (query and form together), form fields before the file part, the
// length of each, and the bytes of the form before the file part
// (preamble, part headers and fields).
const (
	maxTags       = 64
	maxFormFields = 72
	maxFieldBytes = 4 << 10
	maxFormBytes  = 256 << 10
)

// readForm finds the archive in a multipart form read from body: the
// first part with a file name (or named "file"). The repository and tag
// fields before it add to the query's (repository only when the query
// names none). Every bound above is enforced while reading: a form that
// goes past one is refused without reading further.
func readForm(body io.Reader, boundary string, lim Limits, repo string, tags []string) (io.Reader, string, []string, error) {
	if boundary == "" {
		return nil, "", nil, ErrUploadInvalid.WithMessage("malformed multipart form: no boundary in the Content-Type")
	}
	m := &meter{r: body, limit: maxFormBytes, tooBig: func() error {
		return tooLarge("the form before its file part is larger than %d bytes", maxFormBytes)
	}}
	mr := multipart.NewReader(m, boundary)
	for fields := 0; ; fields++ {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, "", nil, invalid("the multipart form has no file part")
		}
		if err != nil {
			return nil, "", nil, formError(err, m)
		}
		if p.FileName() != "" || p.FormName() == "file" {
			// From here on the archive's own meter (upload.maxbytes)
			// bounds the body; this one only has to let it through.
			m.limit = maxFormBytes + lim.MaxUploadBytes + 1<<20
			return p, repo, tags, nil
		}
		if fields == maxFormFields {
			return nil, "", nil, ErrUploadInvalid.WithMessage(fmt.Sprintf("the form has more than %d fields before its file part", maxFormFields))
		}
		v, err := io.ReadAll(io.LimitReader(p, maxFieldBytes+1))
		if err != nil {
			return nil, "", nil, formError(err, m)
		}
		if len(v) > maxFieldBytes {
			return nil, "", nil, ErrUploadInvalid.WithMessage(fmt.Sprintf("form field %q is longer than %d bytes", cut(p.FormName()), maxFieldBytes))
		}
		switch p.FormName() {
		case "repository":
			if repo == "" {
				repo = strings.TrimSpace(string(v))
			}
		case "tag":
			if len(tags) == maxTags {
				return nil, "", nil, ErrUploadInvalid.WithMessage(fmt.Sprintf("the request names more than %d tags", maxTags))
			}
			tags = append(tags, strings.TrimSpace(string(v)))
		}
	}
}

// formError is the answer to a form that failed to parse: the bound of m
// when it was reached (mime/multipart does not wrap its reader's errors),
// else UPLOAD_INVALID.
func formError(err error, m *meter) error {
	if m.n.Load() > m.limit {
		return m.tooBig()
	}
	return ErrUploadInvalid.WithMessage("malformed multipart form: " + err.Error())
}

// cut shortens s for an error message: a client's oversized input is not
// echoed back whole.
func cut(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
