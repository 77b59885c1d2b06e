package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Reader streams the object at p from offset. Reading from offset 0 asks S3
// for the object's checksum, which the SDK verifies at the end of the body
// (single-part objects; S3 reports no whole-object checksum for multipart
// ones). A body cut off mid-way is resumed from where it stopped, pinned to
// the same object version with If-Match, up to maxattempts times. Reading
// at or past the end yields an empty reader.
func (d *driver) Reader(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	r := &reader{d: d, ctx: ctx, path: p, key: d.key(p), offset: offset}
	if err := r.open(); err != nil {
		if hasCode(err, "InvalidRange") {
			return io.NopCloser(eofReader{}), nil
		}
		return nil, d.pathError(p, err)
	}
	return r, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// reader is a resumable GetObject body.
type reader struct {
	d       *driver
	ctx     context.Context
	path    string
	key     string
	etag    string
	offset  int64 // of the next byte to read
	end     int64 // of the byte after the last to read; 0: the object's end
	body    io.ReadCloser
	resumes int   // consecutive resumes without progress
	err     error // sticky error of a failed resume
	closed  bool
}

func (r *reader) open() error {
	in := &s3.GetObjectInput{
		Bucket: aws.String(r.d.cfg.Bucket),
		Key:    aws.String(r.key),
	}
	switch {
	case r.end > 0:
		in.Range = aws.String("bytes=" + strconv.FormatInt(r.offset, 10) + "-" + strconv.FormatInt(r.end-1, 10))
	case r.offset > 0:
		in.Range = aws.String("bytes=" + strconv.FormatInt(r.offset, 10) + "-")
	case r.d.cfg.Checksum.enabled():
		in.ChecksumMode = types.ChecksumModeEnabled
	}
	if r.etag != "" {
		in.IfMatch = aws.String(r.etag)
	}
	out, err := r.d.client.GetObject(r.ctx, in)
	if err != nil {
		return err
	}
	if r.etag == "" {
		r.etag = aws.ToString(out.ETag)
	}
	r.body = out.Body
	return nil
}

func (r *reader) Read(b []byte) (int, error) {
	if r.closed {
		return 0, errors.New("s3 storage: read from closed reader")
	}
	if r.err != nil {
		return 0, r.err
	}
	for {
		n, err := r.body.Read(b)
		r.offset += int64(n)
		if n > 0 {
			r.resumes = 0 // progress: only consecutive failures count
		}
		if err == nil || errors.Is(err, io.EOF) {
			return n, err
		}
		if r.ctx.Err() != nil || r.resumes+1 >= r.d.cfg.MaxAttempts || isChecksumError(err) {
			return n, err
		}
		// The connection broke mid-body: continue from r.offset.
		r.resumes++
		_ = r.body.Close()
		if oerr := r.open(); oerr != nil {
			r.body = io.NopCloser(eofReader{})
			if hasCode(oerr, "InvalidRange") {
				return n, io.EOF // the cut happened right at the end
			}
			// Sticky: a later Read must not mistake the cut for the end.
			r.err = fmt.Errorf("s3 storage: resume read of %s at %d after %v: %w", r.path, r.offset, err, oerr)
			return n, r.err
		}
		if n > 0 {
			return n, nil
		}
	}
}

func (r *reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	return r.body.Close()
}

// isChecksumError reports the SDK's checksum validation failure of a body,
// which must surface rather than be papered over by a resume.
func isChecksumError(err error) bool {
	// The SDK's validation error type is internal; its message is stable.
	return errors.Is(err, ErrChecksumMismatch) || strings.Contains(err.Error(), "checksum did not match")
}
