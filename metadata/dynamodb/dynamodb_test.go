package dynamodb

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/metadata/storetest"
)

// endpointEnv names the DynamoDB Local endpoint the tests use; `make test`
// starts DynamoDB Local (scripts/dynamodb-local.sh) and sets it.
const endpointEnv = "IMAGEGATE_TEST_DYNAMODB_ENDPOINT"

// testEndpoint returns the DynamoDB Local endpoint, or skips the test when
// none is configured (fails instead under IMAGEGATE_TEST_REQUIRE_ALL=1).
func testEndpoint(tb testing.TB) string {
	tb.Helper()
	e := os.Getenv(endpointEnv)
	if e == "" {
		msg := endpointEnv + " is not set: `make test` starts DynamoDB Local and provides it (see scripts/dynamodb-local.sh)"
		if os.Getenv("IMAGEGATE_TEST_REQUIRE_ALL") == "1" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return e
}

var unsafeTableChars = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// newTestStore returns a Store on a new table of its own (created by New),
// deleted when the test ends. c's Table, Endpoint and CreateTable are set.
func newTestStore(tb testing.TB, c Config) *Store {
	tb.Helper()
	c.Endpoint = testEndpoint(tb)
	c.CreateTable = true
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := unsafeTableChars.ReplaceAllString(tb.Name(), "-")
	c.Table = "imagegate-test-" + name[:min(len(name), 100)] + "-" + hex.EncodeToString(suffix)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := New(ctx, c)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := s.client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(c.Table)}); err != nil {
			tb.Errorf("deleting table %s: %v", c.Table, err)
		}
		_ = s.Close()
	})
	return s
}

func TestContract(t *testing.T) {
	testEndpoint(t)
	storetest.Run(t, func(t *testing.T) metadata.Store { return newTestStore(t, Config{}) })
}

// TestUnreachable: with nothing listening on the endpoint every method
// fails, after the retries, with metadata.ErrUnavailable.
func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + ln.Addr().String()
	ln.Close() // a closed port: connections are refused

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := Config{Table: "imagegate-unreachable", Endpoint: endpoint, MaxAttempts: 2}
	if _, err := New(ctx, Config{Table: c.Table, Endpoint: endpoint, MaxAttempts: 1, CreateTable: true}); !errors.Is(err, metadata.ErrUnavailable) {
		t.Fatalf("New with CreateTable: got %v, want ErrUnavailable", err)
	}
	s, err := New(ctx, c) // contacts nothing
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := &metadata.Record{ID: metadata.NewID(), Kind: metadata.KindPush, Repository: "a/b", Status: metadata.StatusPending}
	calls := map[string]func() error{
		"Put":    func() error { return s.Put(ctx, r) },
		"Finish": func() error { return s.Finish(ctx, r.ID, metadata.Finish{Status: metadata.StatusAccepted}) },
		"Get":    func() error { _, err := s.Get(ctx, r.ID); return err },
		"List":   func() error { _, err := s.List(ctx, metadata.Query{Repository: "a/b"}); return err },
		"Ping":   func() error { return s.Ping(ctx) },
	}
	for name, call := range calls {
		err := call()
		t.Logf("%s: %v", name, err)
		if !errors.Is(err, metadata.ErrUnavailable) {
			t.Errorf("%s: got %v, want ErrUnavailable", name, err)
		}
	}
}

// TestDeadline: a call past its deadline returns the context's error, not
// ErrUnavailable.
func TestDeadline(t *testing.T) {
	s := newTestStore(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	if _, err := s.Get(ctx, metadata.NewID()); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, metadata.ErrUnavailable) {
		t.Fatalf("Get past its deadline: got %v", err)
	}
}

// TestRetention: with Retention set, TTL is enabled on expires_at and every
// item of a record (chunks too) expires Retention after it was received;
// without, no item has the attribute.
func TestRetention(t *testing.T) {
	const retention = 48 * time.Hour
	s := newTestStore(t, Config{Retention: retention})
	ctx := t.Context()

	ttl, err := s.client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(s.table)})
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl.TimeToLiveDescription; d.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(d.AttributeName) != attrExpires {
		t.Fatalf("TTL: %s on %q", d.TimeToLiveStatus, aws.ToString(d.AttributeName))
	}

	received := time.Now().Truncate(time.Second)
	small := testRecord("ttl/small", received)
	big := testRecord("ttl/big", received)
	big.Layers = randomLayers(6000) // incompressible: chunked
	for _, r := range []*metadata.Record{small, big} {
		if err := s.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	want := strconv.FormatInt(received.Add(retention).Unix(), 10)
	items := rawItems(t, s, small.ID, big.ID)
	if len(items) < 3 {
		t.Fatalf("%d items, want the small record's and the big one's main and chunks", len(items))
	}
	for _, it := range items {
		if got := getN(it, attrExpires); got != want {
			t.Errorf("item %s/%s: expires_at %q, want %q", getS(it, attrPK), getS(it, attrSK), got, want)
		}
	}

	// Past its retention a record is hidden, even before DynamoDB deletes it.
	old := testRecord("ttl/small", received.Add(-retention-time.Minute))
	if err := s.Put(ctx, old); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, old.ID); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("Get of an expired record: got %v, want ErrNotFound", err)
	}
	page, err := s.List(ctx, metadata.Query{Repository: "ttl/small"})
	if err != nil || len(page.Records) != 1 || page.Records[0].ID != small.ID {
		t.Errorf("List with an expired record: %d records, %v; want only the live one", len(page.Records), err)
	}

	plain := newTestStore(t, Config{})
	r := testRecord("ttl/none", received)
	if err := plain.Put(ctx, r); err != nil {
		t.Fatal(err)
	}
	for _, it := range rawItems(t, plain, r.ID) {
		if _, ok := it[attrExpires]; ok {
			t.Errorf("without retention, item %s carries %s", getS(it, attrPK), attrExpires)
		}
	}
}

// rawItems returns every item of records ids as stored.
func rawItems(t *testing.T, s *Store, ids ...string) []item {
	t.Helper()
	var all []item
	for _, id := range ids {
		items, err := s.queryPartition(t.Context(), id, "")
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, items...)
	}
	return all
}

// testRecord returns a minimal accepted push record received at.
func testRecord(repo string, at time.Time) *metadata.Record {
	return &metadata.Record{
		ID: metadata.NewID(), Kind: metadata.KindPush, Repository: repo, ReceivedAt: at,
		Digest: digest.Digest("sha256:" + hex.EncodeToString(make([]byte, 32))),
		User:   metadata.User{Subject: "alice"}, Status: metadata.StatusAccepted,
	}
}

// randomLayers returns n layers with random (incompressible) digests and
// media types: about 230 bytes of JSON each, 140 after gzip.
func randomLayers(n int) []metadata.Blob {
	layers := make([]metadata.Blob, n)
	for i := range layers {
		b := make([]byte, 128)
		_, _ = rand.Read(b)
		layers[i] = metadata.Blob{
			Digest:    digest.Digest("sha256:" + hex.EncodeToString(b[:32])),
			Size:      int64(i),
			MediaType: "application/x-" + base64.RawURLEncoding.EncodeToString(b[32:]),
		}
	}
	return layers
}
