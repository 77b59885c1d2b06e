package sqlstore

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"

	"github.com/imagegate/imagegate/metadata"
)

// Body encodings: the record's JSON as is, or zstd-compressed when it is
// larger than compressAbove (a record of 3,000 layers is ~1 MB of JSON,
// ~10 % of it compressed; MySQL, unlike PostgreSQL's TOAST, stores blobs
// uncompressed).
const (
	encodingJSON  = "json"
	encodingZstd  = "zstd"
	compressAbove = 8 << 10
	// maxBodyBytes bounds a decompressed body: a record is far smaller.
	maxBodyBytes = 64 << 20
	// maxReasonBytes bounds a record's reason (a bytea/blob column: any
	// bytes, NUL included).
	maxReasonBytes = 1 << 20
)

var (
	zstdEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault))
	zstdDecoder, _ = zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxBodyBytes), zstd.WithDecoderConcurrency(0))
)

// row is a record in its stored form: the indexed columns, the body (the
// record's JSON at its first Put) and its SHA-256, which a retried Put
// compares. Status, reason and commit time are columns of their own that
// Finish updates without rewriting the body; reads overlay them on it.
type row struct {
	id, repository, user, digest, kind, status, committed string
	reason                                                []byte
	pending                                               bool
	sum, encoding                                         string
	body                                                  []byte
}

// encode lays r out as a row, or returns metadata.ErrInvalid when a
// column would exceed its bound.
func encode(r *metadata.Record) (*row, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"id", r.ID, maxIDBytes},
		{"repository", r.Repository, maxNameBytes},
		{"user subject", r.User.Subject, maxNameBytes},
		{"digest", r.Digest.String(), maxDigestBytes},
		{"kind", string(r.Kind), maxWordBytes},
		{"status", string(r.Status), maxWordBytes},
	} {
		if err := checkText(f.name, f.value, f.max); err != nil {
			return nil, err
		}
	}
	if len(r.Reason) > maxReasonBytes {
		return nil, fmt.Errorf("%w: reason of %d bytes, at most %d", metadata.ErrInvalid, len(r.Reason), maxReasonBytes)
	}
	data, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encoding record %s: %w", r.ID, err)
	}
	h := sha256.Sum256(data)
	w := &row{
		id: r.ID, repository: r.Repository, user: r.User.Subject, digest: r.Digest.String(),
		kind: string(r.Kind), status: string(r.Status), reason: []byte(r.Reason),
		pending: r.Status == metadata.StatusPending,
		sum:     hex.EncodeToString(h[:]), encoding: encodingJSON, body: data,
	}
	if r.CommittedAt != nil {
		w.committed = r.CommittedAt.Format(time.RFC3339Nano)
	}
	if len(data) > compressAbove {
		w.encoding, w.body = encodingZstd, zstdEncoder.EncodeAll(data, nil)
	}
	return w, nil
}

// checkText refuses a value longer than max bytes or not UTF-8 (which
// PostgreSQL's text refuses): metadata.ErrInvalid, before any SQL.
func checkText(name, value string, max int) error {
	switch {
	case len(value) > max:
		return fmt.Errorf("%w: %s of %d bytes, at most %d", metadata.ErrInvalid, name, len(value), max)
	case !utf8.ValidString(value):
		return fmt.Errorf("%w: %s is not UTF-8", metadata.ErrInvalid, name)
	}
	for i := 0; i < len(value); i++ {
		if value[i] == 0 {
			return fmt.Errorf("%w: %s holds a NUL byte", metadata.ErrInvalid, name)
		}
	}
	return nil
}

// decode rebuilds the record of a stored row, checking its body against
// its checksum, and overlays the columns Finish updates.
func (w *row) decode() (*metadata.Record, error) {
	data := w.body
	switch w.encoding {
	case encodingJSON:
	case encodingZstd:
		var err error
		if data, err = zstdDecoder.DecodeAll(w.body, nil); err != nil {
			return nil, fmt.Errorf("record %s: decompressing: %w", w.id, err)
		}
	default:
		return nil, fmt.Errorf("record %s: unknown body encoding %q", w.id, w.encoding)
	}
	if h := sha256.Sum256(data); hex.EncodeToString(h[:]) != w.sum {
		return nil, fmt.Errorf("record %s: body does not match its checksum", w.id)
	}
	var r metadata.Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("record %s: decoding: %w", w.id, err)
	}
	r.Status, r.Reason, r.CommittedAt = metadata.Status(w.status), string(w.reason), nil
	if w.committed != "" {
		at, err := time.Parse(time.RFC3339Nano, w.committed)
		if err != nil {
			return nil, fmt.Errorf("record %s: committed_at: %w", w.id, err)
		}
		r.CommittedAt = &at
	}
	return &r, nil
}

// Columns of a stored record, in the order scan reads them.
const recordColumns = "id, status, reason, committed_at, body_sum, encoding, body"

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanRow reads the recordColumns of one row.
func scanRow(s scanner) (*row, error) {
	var w row
	if err := s.Scan(&w.id, &w.status, &w.reason, &w.committed, &w.sum, &w.encoding, &w.body); err != nil {
		return nil, err
	}
	return &w, nil
}
