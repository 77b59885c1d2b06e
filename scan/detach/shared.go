package detach

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/scan"
)

// ReportSpace is the fleet space of shared scans: one item per manifest
// digest, first the claim of the replica scanning it, then the finished
// report's record.
const ReportSpace = "scan-reports"

// Bounds of a shared report, gzip-compressed JSON. Up to MaxInlineBytes it
// lives in the fleet item itself (base64 in JSON: a third more, well under
// fleet.MaxValueBytes and DynamoDB's 400 KB item); up to MaxStoredBytes in
// the storage driver, at ReportRoot/<algorithm>/<hex>, the item holding
// its size and sha256; beyond, or without storage, the report stays in
// the replica that made it (the others scan again).
const (
	MaxInlineBytes = 96 << 10
	MaxStoredBytes = 32 << 20
	// MaxReportBytes bounds a shared report's JSON before compression,
	// on both sides: a bigger one is not shared, nor decoded.
	MaxReportBytes = 256 << 20
	// ReportRoot is where reports too big for an item are stored.
	ReportRoot = "/imagegate/scan-reports"
)

// claimGrace is how long a claim outlives the scan's Timeout, so that a
// claim never expires under a live scan still publishing; a claimer that
// died frees the manifest that long after Timeout.
const claimGrace = 30 * time.Second

// Shared is what the Scanners of several replicas share so that a push
// retried on any of them is decided with the report one of them made, and
// two replicas never scan one manifest at once. The zero Shared (nil
// Fleet) shares nothing.
type Shared struct {
	// Fleet holds one small item per manifest (ReportSpace).
	Fleet fleet.Store
	// Storage holds the reports too big for an item; nil: such reports
	// are not shared.
	Storage storagedriver.StorageDriver
	// Owner names this replica in claims, for operators reading the store.
	Owner string
	// Logger receives the store's failures; nil: discarded.
	Logger *slog.Logger
}

// Record states.
const (
	stateRunning = "running"
	stateDone    = "done"
)

// record is the value of a ReportSpace item.
type record struct {
	State string `json:"state"`
	Owner string `json:"owner,omitempty"`
	// DBVersion and DBUpdatedAt name the DB the report was made with.
	DBVersion   string    `json:"dbVersion,omitempty"`
	DBUpdatedAt time.Time `json:"dbUpdatedAt,omitzero"`
	// Inline is the gzipped JSON report when small enough; otherwise
	// Object names it in Storage, Size and SHA256 being the object's.
	Inline []byte `json:"inline,omitempty"`
	Object string `json:"object,omitempty"`
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// errNotShared: a report beyond the bounds, or too big for an item when
// there is no storage; it stays in this replica.
var errNotShared = errors.New("report too big to share")

// logger is sh.Logger or a discarding one.
func (sh *Shared) logger() *slog.Logger {
	if sh.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return sh.Logger
}

// read returns the live item of d and its record; the item's Version is 0
// and the record nil when there is none. An unreadable record reads as
// none, so that the next claim replaces it.
func (sh *Shared) read(ctx context.Context, d digest.Digest) (fleet.Item, *record, error) {
	it, err := sh.Fleet.Get(ctx, ReportSpace, d.String())
	if errors.Is(err, fleet.ErrNotFound) {
		return fleet.Item{}, nil, nil
	}
	if err != nil {
		return fleet.Item{}, nil, fmt.Errorf("reading the shared scan of %s: %w", d, err)
	}
	var rec record
	if err := json.Unmarshal(it.Value, &rec); err != nil {
		sh.logger().Warn("unreadable shared scan record; replacing it", "digest", d.String(), "error", err.Error())
		return it, nil, nil
	}
	return it, &rec, nil
}

// claim writes this replica's claim on d where the item's version is
// expect (0: absent), alive for ttl. It returns the claim's version, or an
// error wrapping fleet.ErrConflict when another replica wrote first.
func (sh *Shared) claim(ctx context.Context, d digest.Digest, expect int64, ttl time.Duration) (int64, error) {
	v, _ := json.Marshal(record{State: stateRunning, Owner: sh.Owner})
	return sh.Fleet.Put(ctx, ReportSpace, d.String(), v, expect, ttl)
}

// release drops the claim of version v on d (the scan failed), so that
// the next request anywhere scans again.
func (sh *Shared) release(ctx context.Context, d digest.Digest, v int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := sh.Fleet.Delete(ctx, ReportSpace, d.String(), v); err != nil && !errors.Is(err, fleet.ErrConflict) {
		sh.logger().Warn("releasing a shared scan claim failed; it expires by itself", "digest", d.String(), "error", err.Error())
	}
}

// publish replaces the claim of version v on d with r, kept ttl. A report
// too big to share, or a failure, is logged: the claim is released and
// the other replicas scan for themselves.
func (sh *Shared) publish(ctx context.Context, d digest.Digest, v int64, r *scan.Report, ttl time.Duration) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	rec, err := sh.encode(ctx, d, r)
	var value []byte
	if err == nil {
		value, err = json.Marshal(rec)
	}
	if err == nil {
		_, err = sh.Fleet.Put(ctx, ReportSpace, d.String(), value, v, ttl)
	}
	if err != nil {
		sh.logger().Warn("scan report not shared with the other replicas", "digest", d.String(), "error", err.Error())
		sh.release(ctx, d, v)
	}
}

// encode makes the done record of r: inline when small, else in Storage.
func (sh *Shared) encode(ctx context.Context, d digest.Digest, r *scan.Report) (record, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(&limitWriter{w: zw, left: MaxReportBytes}).Encode(r); err != nil {
		return record{}, fmt.Errorf("encoding the report: %w", err)
	}
	if err := zw.Close(); err != nil {
		return record{}, fmt.Errorf("compressing the report: %w", err)
	}
	rec := record{State: stateDone, Owner: sh.Owner, DBVersion: r.DBVersion, DBUpdatedAt: r.DBUpdatedAt}
	switch n := buf.Len(); {
	case n <= MaxInlineBytes:
		rec.Inline = buf.Bytes()
		return rec, nil
	case n > MaxStoredBytes || sh.Storage == nil:
		return record{}, fmt.Errorf("%d bytes compressed (inline up to %d, stored up to %d, storage configured: %t): %w",
			n, MaxInlineBytes, MaxStoredBytes, sh.Storage != nil, errNotShared)
	}
	sum := sha256.Sum256(buf.Bytes())
	rec.Object, rec.Size, rec.SHA256 = reportPath(d), int64(buf.Len()), hex.EncodeToString(sum[:])
	if err := sh.Storage.PutContent(ctx, rec.Object, buf.Bytes()); err != nil {
		return record{}, fmt.Errorf("storing the report at %s: %w", rec.Object, err)
	}
	return rec, nil
}

// reportPath is where d's report is stored when too big for an item: one
// object per manifest, replaced by the next scan's.
func reportPath(d digest.Digest) string {
	return path.Join(ReportRoot, d.Algorithm().String(), d.Encoded())
}

// load returns the report rec holds, reading at most its recorded size
// from Storage and checking its sha256 (a replaced object reads as an
// error: the caller scans again).
func (sh *Shared) load(ctx context.Context, rec *record) (*scan.Report, error) {
	data := rec.Inline
	if rec.Object != "" {
		if sh.Storage == nil {
			return nil, fmt.Errorf("report stored at %s, and this replica has no storage", rec.Object)
		}
		if rec.Size <= 0 || rec.Size > MaxStoredBytes {
			return nil, fmt.Errorf("report at %s: size %d out of bounds", rec.Object, rec.Size)
		}
		rd, err := sh.Storage.Reader(ctx, rec.Object, 0)
		if err != nil {
			return nil, fmt.Errorf("opening the report at %s: %w", rec.Object, err)
		}
		data, err = io.ReadAll(io.LimitReader(rd, rec.Size+1))
		_ = rd.Close()
		if err != nil {
			return nil, fmt.Errorf("reading the report at %s: %w", rec.Object, err)
		}
		sum := sha256.Sum256(data)
		if int64(len(data)) != rec.Size || hex.EncodeToString(sum[:]) != rec.SHA256 {
			return nil, fmt.Errorf("report at %s: not the one recorded (replaced by a later scan)", rec.Object)
		}
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decompressing the shared report: %w", err)
	}
	var r scan.Report
	if err := json.NewDecoder(io.LimitReader(zr, MaxReportBytes)).Decode(&r); err != nil {
		return nil, fmt.Errorf("decoding the shared report: %w", err)
	}
	return &r, nil
}

// limitWriter writes to w until left bytes are written, then fails with
// errNotShared.
type limitWriter struct {
	w    io.Writer
	left int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.left {
		return 0, fmt.Errorf("report JSON over %d bytes: %w", MaxReportBytes, errNotShared)
	}
	l.left -= int64(len(p))
	return l.w.Write(p)
}
