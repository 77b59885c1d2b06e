package dynamodb

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/imagegate/imagegate/metadata"
)

// TestEncodeLayout checks, without a server, how records of each size are
// laid out and that decode reverses encode.
func TestEncodeLayout(t *testing.T) {
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		layers     int
		chunkBytes int
		encoding   string
		chunks     int // 0: inline
		invalid    bool
	}{
		{"small inline json", 1, defaultChunkBytes, encodingJSON, 0, false},
		{"gzipped inline", 200, defaultChunkBytes, encodingGzip, 0, false},
		{"chunked", 6000, defaultChunkBytes, encodingGzip, 3, false},
		{"many small chunks", 6000, 16 * 1024, encodingGzip, 56, false},
		{"more than a transaction's items", 6000, 4 * 1024, encodingGzip, 0, true},
		{"more than a transaction's bytes", 40000, defaultChunkBytes, encodingGzip, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &Store{chunkBytes: tc.chunkBytes, now: time.Now}
			r := testRecord("enc/test", at)
			r.Layers = randomLayers(tc.layers)
			e, err := s.encode(r)
			if tc.invalid {
				if !errors.Is(err, metadata.ErrInvalid) {
					t.Fatalf("got %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := getS(e.main, attrEncoding); got != tc.encoding {
				t.Errorf("encoding %q, want %q", got, tc.encoding)
			}
			if tc.chunks == 0 && len(e.chunks) != 0 || tc.chunks != 0 && (len(e.chunks) < tc.chunks/2 || len(e.chunks) > tc.chunks*2) {
				t.Errorf("%d chunks, want about %d", len(e.chunks), tc.chunks)
			}
			for _, it := range append([]item{e.main}, e.chunks...) {
				if n := itemSize(it); n > maxItemBytes {
					t.Errorf("item %s is %d bytes", getS(it, attrSK), n)
				}
			}
			got, err := decode(e.main, e.chunks)
			if err != nil {
				t.Fatal(err)
			}
			sameRecord(t, got, r)
		})
	}
}

// TestDecodeRejectsDamage: a missing chunk or a body that does not match
// its checksum is an error, never a wrong record.
func TestDecodeRejectsDamage(t *testing.T) {
	s := &Store{chunkBytes: 64 * 1024, now: time.Now}
	r := testRecord("enc/damage", time.Now())
	r.Layers = randomLayers(3000)
	e, err := s.encode(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decode(e.main, e.chunks[1:]); err == nil {
		t.Error("decoded a record with a chunk missing")
	}
	e.main[attrSum] = str("00")
	if _, err := decode(e.main, e.chunks); err == nil {
		t.Error("decoded a record whose checksum does not match")
	}
}

// TestChunkedRecord stores a record that needs several items, then checks
// it is read back whole by Get and List, that Put stays idempotent, and
// that Finish updates it without rewriting the chunks.
func TestChunkedRecord(t *testing.T) {
	s := newTestStore(t, Config{})
	s.chunkBytes = 32 * 1024 // many chunks: about 28
	ctx := t.Context()
	r := testRecord("big/chunked", time.Now())
	r.Status = metadata.StatusPending
	r.Layers = randomLayers(6000)
	if err := s.Put(ctx, r); err != nil {
		t.Fatal(err)
	}
	items := rawItems(t, s, r.ID)
	if len(items) < 10 {
		t.Fatalf("record stored in %d items, want one main item and many chunks", len(items))
	}
	if err := s.Put(ctx, r); err != nil {
		t.Fatalf("retried Put of a chunked record: %v", err)
	}
	other := *r
	other.Tags = []string{"changed"}
	if err := s.Put(ctx, &other); !errors.Is(err, metadata.ErrConflict) {
		t.Fatalf("conflicting Put of a chunked record: got %v", err)
	}

	at := time.Now().UTC()
	if err := s.Finish(ctx, r.ID, metadata.Finish{Status: metadata.StatusFailed, Reason: "storage: disk full", CommittedAt: at}); err != nil {
		t.Fatal(err)
	}
	want := *r
	want.Status, want.Reason, want.CommittedAt = metadata.StatusFailed, "storage: disk full", &at
	got, err := s.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameRecord(t, got, &want)
	page, err := s.List(ctx, metadata.Query{Repository: "big/chunked"})
	if err != nil || len(page.Records) != 1 {
		t.Fatalf("List: %d records, %v", len(page.Records), err)
	}
	sameRecord(t, page.Records[0], &want)
	if n := len(rawItems(t, s, r.ID)); n != len(items) {
		t.Errorf("Finish changed the item count from %d to %d", len(items), n)
	}
	if err := s.Put(ctx, r); err != nil {
		t.Errorf("Put retried after Finish: %v (the content first Put is what counts)", err)
	}
}

// TestConcurrentChunkedPuts: clients racing to Put the same chunked
// record (transactions colliding) all succeed, and one record is stored.
func TestConcurrentChunkedPuts(t *testing.T) {
	s := newTestStore(t, Config{})
	r := testRecord("big/race", time.Now())
	r.Layers = randomLayers(3000)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = s.Put(t.Context(), r) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	page, err := s.List(t.Context(), metadata.Query{Repository: "big/race"})
	if err != nil || len(page.Records) != 1 {
		t.Fatalf("List: %d records, %v", len(page.Records), err)
	}
	sameRecord(t, page.Records[0], r)
}

// TestTooLargeRecord: a record no transaction can carry is ErrInvalid and
// leaves nothing behind.
func TestTooLargeRecord(t *testing.T) {
	s := newTestStore(t, Config{})
	r := testRecord("big/too", time.Now())
	r.Layers = randomLayers(40000)
	if err := s.Put(t.Context(), r); !errors.Is(err, metadata.ErrInvalid) {
		t.Fatalf("got %v, want ErrInvalid", err)
	}
	if _, err := s.Get(t.Context(), r.ID); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("Get after a refused Put: %v", err)
	}
}

// sameRecord compares records by their JSON with times in UTC.
func sameRecord(t *testing.T, got, want *metadata.Record) {
	t.Helper()
	norm := func(r *metadata.Record) string {
		c := *r
		c.ReceivedAt = c.ReceivedAt.UTC()
		if c.CommittedAt != nil {
			at := c.CommittedAt.UTC()
			c.CommittedAt = &at
		}
		b, _ := json.Marshal(&c)
		return string(b)
	}
	if g, w := norm(got), norm(want); g != w {
		t.Fatalf("record differs:\n got %.400s\nwant %.400s", g, w)
	}
}
