package dynamodb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/fleet/fleettest"
	"github.com/imagegate/imagegate/internal/testutil/liveserver"
	"github.com/imagegate/imagegate/metadata"
	metadatadynamodb "github.com/imagegate/imagegate/metadata/dynamodb"
	"github.com/imagegate/imagegate/pulls/pullstest"
)

// testEndpoint returns the DynamoDB Local endpoint `make test` starts
// (scripts/dynamodb-local.sh) and names in IMAGEGATE_TEST_DYNAMODB_ENDPOINT,
// or skips the test (fails it under IMAGEGATE_TEST_REQUIRE_ALL=1).
func testEndpoint(tb testing.TB) string {
	tb.Helper()
	return liveserver.RequireEnv(tb, "IMAGEGATE_TEST_DYNAMODB_ENDPOINT", "DynamoDB Local, see scripts/dynamodb-local.sh")
}

var unsafeTableChars = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// testConfig is the configuration of a new table of the test's own, made
// by the first New with it and deleted when the test ends.
func testConfig(tb testing.TB) metadatadynamodb.Config {
	tb.Helper()
	endpoint := testEndpoint(tb)
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := unsafeTableChars.ReplaceAllString(tb.Name(), "-")
	c := metadatadynamodb.Config{
		Table:       "imagegate-fleet-" + name[:min(len(name), 100)] + "-" + hex.EncodeToString(suffix),
		Endpoint:    endpoint,
		CreateTable: true,
	}
	tb.Cleanup(func() {
		s, err := New(context.Background(), metadatadynamodb.Config{Table: c.Table, Endpoint: c.Endpoint})
		if err != nil {
			tb.Errorf("client to delete table %s: %v", c.Table, err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err = s.client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(c.Table)})
		if _, missing := errors.AsType[*types.ResourceNotFoundException](err); err != nil && !missing {
			tb.Errorf("deleting table %s: %v", c.Table, err)
		}
	})
	return c
}

// newTestStore returns a Store on a new table of its own.
func newTestStore(tb testing.TB) *Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := New(ctx, testConfig(tb))
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return s
}

func TestContract(t *testing.T) {
	testEndpoint(t)
	fleettest.Run(t, func(t *testing.T) fleet.Store { return newTestStore(t) })
}

// TestLayout: New with CreateTable turns TTL on for expires_at; an item
// holds its key, value, version, exact expiry in ms and that expiry
// rounded up to seconds in expires_at, and nothing any record index keys
// on.
func TestLayout(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	ttl, err := s.client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(s.table)})
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl.TimeToLiveDescription; d.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(d.AttributeName) != "expires_at" {
		t.Fatalf("TTL: %s on %q", d.TimeToLiveStatus, aws.ToString(d.AttributeName))
	}

	// An expiry 1.2345 s after a whole second: ms rounds up to …235, seconds to …+2.
	base := time.Now().Truncate(time.Second)
	s.now = func() time.Time { return base }
	v, err := s.Put(ctx, "leases", "gc", []byte("replica-a"), 0, 1234500*time.Microsecond)
	if err != nil {
		t.Fatal(err)
	}
	it := rawItem(t, s, "leases", "gc")
	var names []string
	for name := range it {
		names = append(names, name)
	}
	slices.Sort(names)
	if want := []string{"expires_at", "expires_ms", "pk", "sk", "value", "version"}; !slices.Equal(names, want) {
		t.Errorf("attributes %v, want %v", names, want)
	}
	checks := map[string]string{
		"pk":         "fleet#leases",
		"sk":         "gc",
		"version":    strconv.FormatInt(v, 10),
		"expires_ms": strconv.FormatInt(base.UnixMilli()+1235, 10),
		"expires_at": strconv.FormatInt(base.Unix()+2, 10),
	}
	for name, want := range checks {
		var got string
		switch a := it[name].(type) {
		case *types.AttributeValueMemberS:
			got = a.Value
		case *types.AttributeValueMemberN:
			got = a.Value
		}
		if got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if b, ok := it["value"].(*types.AttributeValueMemberB); !ok || string(b.Value) != "replica-a" {
		t.Errorf("value %#v", it["value"])
	}
	if got := mustGet(t, s, "leases", "gc").Expires; !got.Equal(time.UnixMilli(base.UnixMilli() + 1235)) {
		t.Errorf("Expires %v", got)
	}

	if _, err := s.Put(ctx, "leases", "gc", []byte("replica-a"), v, 0); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"expires_at", "expires_ms"} {
		if _, ok := rawItem(t, s, "leases", "gc")[name]; ok {
			t.Errorf("item rewritten without TTL keeps %s", name)
		}
	}
}

// TestExpiredNotYetDeleted: an item past its expiry that DynamoDB's TTL
// has not deleted yet (it takes up to days) is absent to every method.
func TestExpiredNotYetDeleted(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	past := time.Now().Add(-time.Hour)
	for _, k := range []string{"a", "b"} {
		_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(s.table),
			Item:      encode("locks", k, []byte("stale"), 42, past),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Get(ctx, "locks", "a"); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("Get: got %v, want ErrNotFound", err)
	}
	if items, err := s.List(ctx, "locks", "", 0); err != nil || len(items) != 0 {
		t.Errorf("List: %d items, %v", len(items), err)
	}
	if _, err := s.Put(ctx, "locks", "a", []byte("stale"), 42, 0); !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("Put with the expired item's version: got %v, want ErrConflict", err)
	}
	v := mustPut(t, s, "locks", "a", "fresh", 0)
	if got := mustGet(t, s, "locks", "a"); string(got.Value) != "fresh" || got.Version != v {
		t.Errorf("after create: %q v%d", got.Value, got.Version)
	}
	if err := s.Delete(ctx, "locks", "b", 7); err != nil {
		t.Errorf("Delete: %v", err)
	}
	if it := rawItem(t, s, "locks", "b"); it != nil {
		t.Errorf("Delete left the expired item: %v", it)
	}
}

// TestBesideRecords: fleet items and records share a table whose store
// has a retention without disturbing each other: records list, read and
// stay pending as before; fleet lists only its items.
func TestBesideRecords(t *testing.T) {
	ctx := t.Context()
	cfg := testConfig(t)
	cfg.Retention = 48 * time.Hour
	meta, err := metadatadynamodb.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(ctx, cfg) // TTL already on expires_at: kept
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	pending := &metadata.Record{ID: metadata.NewID(), Kind: metadata.KindPush, Repository: "team/app", ReceivedAt: now,
		User: metadata.User{Subject: "alice"}, Status: metadata.StatusPending}
	accepted := &metadata.Record{ID: metadata.NewID(), Kind: metadata.KindPush, Repository: "team/app", ReceivedAt: now,
		User: metadata.User{Subject: "alice"}, Status: metadata.StatusAccepted}
	for _, r := range []*metadata.Record{pending, accepted} {
		if err := meta.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// Spaces and keys that look like records or their index keys.
	for _, k := range []string{"rec", pending.ID, "all", "team/app"} {
		mustPut(t, s, "rec", k, k, time.Hour)
		mustPut(t, s, "leases", k, k, 0)
	}

	page, err := meta.List(ctx, metadata.Query{})
	if err != nil || len(page.Records) != 2 || page.Records[0].ID != accepted.ID || page.Records[1].ID != pending.ID {
		t.Errorf("records listed: %d, %v", len(page.Records), err)
	}
	for _, q := range []metadata.Query{{Repository: "team/app"}, {User: "alice"}} {
		if page, err := meta.List(ctx, q); err != nil || len(page.Records) != 2 {
			t.Errorf("List %+v: %d records, %v", q, len(page.Records), err)
		}
	}
	pend, err := meta.Pending(ctx, metadata.PendingQuery{OlderThan: now.Add(time.Hour)})
	if err != nil || len(pend.Records) != 1 || pend.Records[0].ID != pending.ID {
		t.Errorf("pending: %d records, %v", len(pend.Records), err)
	}
	if r, err := meta.Get(ctx, pending.ID); err != nil || r.Status != metadata.StatusPending {
		t.Errorf("Get record: %v", err)
	}
	if err := meta.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	items, err := s.List(ctx, "rec", "", 0)
	if err != nil || len(items) != 4 {
		t.Errorf("fleet List: %d items, %v", len(items), err)
	}
}

// TestTTLOnAnotherAttribute: New with CreateTable refuses a table whose
// TTL is on another attribute (fleet expiry would never be collected).
func TestTTLOnAnotherAttribute(t *testing.T) {
	ctx := t.Context()
	cfg := testConfig(t)
	cfg.CreateTable = false
	s, err := New(ctx, cfg) // contacts nothing: the table does not exist yet
	if err != nil {
		t.Fatal(err)
	}
	cfg.CreateTable = true
	if _, err := metadatadynamodb.New(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	_, err = s.client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(cfg.Table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String("other"), Enabled: aws.Bool(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(ctx, cfg); err == nil || !strings.Contains(err.Error(), `"other"`) {
		t.Fatalf("New on a table with TTL on another attribute: %v", err)
	}
}

// TestUnreachable: without CreateTable New contacts nothing; then every
// method fails with an error naming the operation, never ErrNotFound or
// ErrConflict.
func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + ln.Addr().String()
	ln.Close() // a closed port: connections are refused

	ctx := t.Context()
	s, err := New(ctx, metadatadynamodb.Config{Table: "imagegate-unreachable", Endpoint: endpoint, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"get":    func() error { _, err := s.Get(ctx, "a", "k"); return err },
		"put":    func() error { _, err := s.Put(ctx, "a", "k", nil, 0, 0); return err },
		"delete": func() error { return s.Delete(ctx, "a", "k", 1) },
		"list":   func() error { _, err := s.List(ctx, "a", "", 0); return err },
	}
	for op, call := range calls {
		err := call()
		if err == nil || errors.Is(err, fleet.ErrNotFound) || errors.Is(err, fleet.ErrConflict) ||
			!strings.HasPrefix(err.Error(), "fleet/dynamodb: "+op+" a/") {
			t.Errorf("%s: %v", op, err)
		}
	}
	if _, err := New(ctx, metadatadynamodb.Config{Table: "x"}); err == nil {
		t.Errorf("New with an invalid table name succeeded")
	}
}

// rawItem is the item under key in space as stored, nil when none.
func rawItem(t *testing.T, s *Store, space, k string) item {
	t.Helper()
	out, err := s.client.GetItem(t.Context(), &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: key(space, k), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

func mustPut(t *testing.T, s *Store, space, k, value string, ttl time.Duration) int64 {
	t.Helper()
	v, err := s.Put(t.Context(), space, k, []byte(value), 0, ttl)
	if err != nil {
		t.Fatalf("Put %s/%s: %v", space, k, err)
	}
	return v
}

func mustGet(t *testing.T, s *Store, space, k string) fleet.Item {
	t.Helper()
	it, err := s.Get(t.Context(), space, k)
	if err != nil {
		t.Fatalf("Get %s/%s: %v", space, k, err)
	}
	return it
}

// TestPullsContract: pull tracking's racing flushers converge on DynamoDB
// and never move a time backwards (pulls/pullstest).
func TestPullsContract(t *testing.T) {
	testEndpoint(t)
	pullstest.Run(t, func(t *testing.T) fleet.Store { return newTestStore(t) })
}
