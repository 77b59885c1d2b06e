package fleettest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/imagegate/imagegate/fleet"
)

// testGetAbsent: a key never written is ErrNotFound, in any space.
func testGetAbsent(t *testing.T, s fleet.Store) {
	for _, space := range []string{"a", "other-space"} {
		if _, err := s.Get(t.Context(), space, "missing"); !errors.Is(err, fleet.ErrNotFound) {
			t.Errorf("Get %s/missing: got %v, want ErrNotFound", space, err)
		}
	}
}

// testPutCreates: Put with expect 0 creates the item, which Get returns
// with the version Put returned and no expiry; a second create conflicts.
func testPutCreates(t *testing.T, s fleet.Store) {
	v := mustPut(t, s, "a", "k", "hello", 0, 0)
	it := mustGet(t, s, "a", "k")
	wantItem(t, it, "k", "hello", v)
	if !it.Expires.IsZero() {
		t.Errorf("item without TTL expires at %v", it.Expires)
	}
	if _, err := s.Put(t.Context(), "a", "k", []byte("again"), 0, 0); !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("second create: got %v, want ErrConflict", err)
	}
	wantItem(t, mustGet(t, s, "a", "k"), "k", "hello", v)
}

// testPutConflict: a Put whose expect is not the live version fails with
// ErrConflict and changes nothing.
func testPutConflict(t *testing.T, s fleet.Store) {
	v1 := mustPut(t, s, "a", "k", "one", 0, 0)
	v2 := mustPut(t, s, "a", "k", "two", v1, 0)
	cases := []struct {
		name   string
		key    string
		expect int64
	}{
		{"create over live", "k", 0},
		{"stale version", "k", v1},
		{"unknown version", "k", v2 + 1},
		{"version of absent key", "absent", v2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Put(t.Context(), "a", tc.key, []byte("bad"), tc.expect, time.Hour)
			if !errors.Is(err, fleet.ErrConflict) {
				t.Fatalf("Put expect %d: got %v, want ErrConflict", tc.expect, err)
			}
			it := mustGet(t, s, "a", "k")
			wantItem(t, it, "k", "two", v2)
			if !it.Expires.IsZero() {
				t.Errorf("refused Put set an expiry: %v", it.Expires)
			}
			if ok, err := absent(t.Context(), s, "a", "absent"); err != nil || !ok {
				t.Errorf("refused Put created the absent key: %v", err)
			}
		})
	}
}

// testVersions: every write gives a new, nonzero version; values
// (empty, binary) come back byte for byte.
func testVersions(t *testing.T, s fleet.Store) {
	values := [][]byte{[]byte("a"), {}, {0, 1, 2, 0xff, 0xfe}, []byte(strings.Repeat("x", 5000)), []byte("last")}
	seen := map[int64]bool{}
	var v int64
	for i, value := range values {
		next, err := s.Put(t.Context(), "a", "k", value, v, 0)
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if next == 0 || seen[next] {
			t.Fatalf("write %d: version %d (seen before: %v)", i, next, seen[next])
		}
		seen[next], v = true, next
		it := mustGet(t, s, "a", "k")
		if !bytes.Equal(it.Value, value) || it.Version != v {
			t.Fatalf("write %d: read %x v%d, want %x v%d", i, it.Value, it.Version, value, v)
		}
	}
}

// testExpiry: an item with a TTL is live until then and carries its
// expiry; from then on Get, List and Delete treat it as absent, a
// create (expect 0) succeeds over it and its old version no longer
// writes. An item without TTL stays.
func testExpiry(t *testing.T, s fleet.Store) {
	ctx := t.Context()
	before := time.Now()
	v := mustPut(t, s, "a", "short", "soon gone", 0, shortTTL)
	after := time.Now()
	mustPut(t, s, "a", "stays", "forever", 0, 0)
	mustPut(t, s, "a", "deleted", "soon gone", 0, shortTTL)

	// Live until the TTL ends: a check that ran past it (a stalled
	// machine) proves nothing and is only logged.
	live := func(what string, ok bool) {
		t.Helper()
		switch {
		case ok:
		case time.Now().Before(before.Add(shortTTL)):
			t.Errorf("%s: wrong before the TTL ended", what)
		default:
			t.Logf("%s: checked after the TTL ended, inconclusive", what)
		}
	}
	it, err := s.Get(ctx, "a", "short")
	live(fmt.Sprintf("Get of the live item: %q v%d, %v", it.Value, it.Version, err),
		err == nil && string(it.Value) == "soon gone" && it.Version == v)
	got := listKeys(t, s, "a", "", 0)
	live(fmt.Sprintf("List of the live items: %v", got), strings.Join(got, ",") == "deleted,short,stays")
	// Backends may round the expiry up to their precision (ms).
	if err == nil && (it.Expires.Before(before.Add(shortTTL)) || it.Expires.After(after.Add(shortTTL+time.Millisecond))) {
		t.Errorf("expires %v, want between %v and %v", it.Expires, before.Add(shortTTL), after.Add(shortTTL))
	}

	eventually(t, "the items expire", func() (bool, error) {
		if gone, err := absent(ctx, s, "a", "short"); !gone || err != nil {
			return false, err
		}
		return absent(ctx, s, "a", "deleted") // written after short: expires a little later
	})
	if time.Now().Before(before.Add(shortTTL)) {
		t.Errorf("item gone before its TTL")
	}
	for _, limit := range []int{0, 1} { // 1: the expired items come first
		if got := listKeys(t, s, "a", "", limit); strings.Join(got, ",") != "stays" {
			t.Errorf("after expiry List limit %d: %v, want only the item without TTL", limit, got)
		}
	}
	if _, err := s.Put(ctx, "a", "short", []byte("renewed"), v, shortTTL); !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("Put with the version of an expired item: got %v, want ErrConflict", err)
	}
	if err := s.Delete(ctx, "a", "deleted", 12345); err != nil {
		t.Errorf("Delete of an expired item: %v", err)
	}
	v2 := mustPut(t, s, "a", "short", "new", 0, 0)
	if v2 == v {
		t.Errorf("new item over an expired one repeats its version %d", v)
	}
	it = mustGet(t, s, "a", "short")
	wantItem(t, it, "short", "new", v2)
	if !it.Expires.IsZero() {
		t.Errorf("item written without TTL over an expired one expires at %v", it.Expires)
	}
	if got := listKeys(t, s, "a", "", 0); strings.Join(got, ",") != "short,stays" {
		t.Errorf("List: %v", got)
	}
}

// testDelete: Delete needs the live version; deleting an absent key is
// not an error.
func testDelete(t *testing.T, s fleet.Store) {
	ctx := t.Context()
	v := mustPut(t, s, "a", "k", "value", 0, 0)
	for _, wrong := range []int64{0, v + 1} {
		if err := s.Delete(ctx, "a", "k", wrong); !errors.Is(err, fleet.ErrConflict) {
			t.Errorf("Delete expect %d: got %v, want ErrConflict", wrong, err)
		}
		wantItem(t, mustGet(t, s, "a", "k"), "k", "value", v)
	}
	if err := s.Delete(ctx, "a", "k", v); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if ok, err := absent(ctx, s, "a", "k"); err != nil || !ok {
		t.Fatalf("deleted item still there (%v)", err)
	}
	for _, expect := range []int64{0, v} {
		if err := s.Delete(ctx, "a", "k", expect); err != nil {
			t.Errorf("Delete of an absent key, expect %d: %v", expect, err)
		}
	}
	mustPut(t, s, "a", "k", "again", 0, 0) // a deleted key can be created anew
}

// testInvalidArgs: every method refuses a bad space, an empty, too long
// or non-UTF-8 key and a too big value, with an error that is neither
// ErrNotFound nor ErrConflict, and stores nothing.
func testInvalidArgs(t *testing.T, s fleet.Store) {
	ctx := t.Context()
	long := strings.Repeat("k", fleet.MaxKeyBytes+1)
	big := make([]byte, fleet.MaxValueBytes+1)
	cases := []struct {
		name string
		call func() error
	}{
		{"Get empty space", func() error { _, err := s.Get(ctx, "", "k"); return err }},
		{"Get upper-case space", func() error { _, err := s.Get(ctx, "Space", "k"); return err }},
		{"Get space with slash", func() error { _, err := s.Get(ctx, "a/b", "k"); return err }},
		{"Get space too long", func() error { _, err := s.Get(ctx, "a"+strings.Repeat("b", 63), "k"); return err }},
		{"Get empty key", func() error { _, err := s.Get(ctx, "a", ""); return err }},
		{"Get key too long", func() error { _, err := s.Get(ctx, "a", long); return err }},
		{"Get key not UTF-8", func() error { _, err := s.Get(ctx, "a", "k\xff"); return err }},
		{"Put bad space", func() error { _, err := s.Put(ctx, "9a", "k", nil, 0, 0); return err }},
		{"Put empty key", func() error { _, err := s.Put(ctx, "a", "", nil, 0, 0); return err }},
		{"Put key too long", func() error { _, err := s.Put(ctx, "a", long, nil, 0, 0); return err }},
		{"Put key not UTF-8", func() error { _, err := s.Put(ctx, "a", "\xc3", nil, 0, 0); return err }},
		{"Put value too big", func() error { _, err := s.Put(ctx, "a", "k", big, 0, 0); return err }},
		{"Delete bad space", func() error { return s.Delete(ctx, "a_b", "k", 0) }},
		{"Delete key too long", func() error { return s.Delete(ctx, "a", long, 0) }},
		{"List bad space", func() error { _, err := s.List(ctx, "", "", 10); return err }},
		{"List after too long", func() error { _, err := s.List(ctx, "a", long, 10); return err }},
		{"List after not UTF-8", func() error { _, err := s.List(ctx, "a", "\xff", 10); return err }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if err == nil || errors.Is(err, fleet.ErrNotFound) || errors.Is(err, fleet.ErrConflict) {
				t.Fatalf("got %v, want an argument error", err)
			}
		})
	}
	if got := listKeys(t, s, "a", "", 0); len(got) != 0 {
		t.Errorf("refused calls stored %v", got)
	}
}

// testBounds: a key of MaxKeyBytes (multi-byte UTF-8 included) and a
// value of MaxValueBytes are accepted and come back whole.
func testBounds(t *testing.T, s fleet.Store) {
	key := strings.Repeat("é", fleet.MaxKeyBytes/2)
	value := bytes.Repeat([]byte{0xa5}, fleet.MaxValueBytes)
	v, err := s.Put(t.Context(), "a", key, value, 0, time.Hour)
	if err != nil {
		t.Fatalf("Put at the limits: %v", err)
	}
	it := mustGet(t, s, "a", key)
	if it.Key != key || !bytes.Equal(it.Value, value) || it.Version != v {
		t.Fatalf("read back %d-byte key, %d-byte value v%d", len(it.Key), len(it.Value), it.Version)
	}
	items, err := s.List(t.Context(), "a", "", 0)
	if err != nil || len(items) != 1 || !bytes.Equal(items[0].Value, value) {
		t.Fatalf("List: %d items, %v", len(items), err)
	}
}

// testCancelled: with a cancelled context every method fails with an
// error wrapping context.Canceled and writes nothing.
func testCancelled(t *testing.T, s fleet.Store) {
	v := mustPut(t, s, "a", "k", "value", 0, 0)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := map[string]func() error{
		"Get":    func() error { _, err := s.Get(ctx, "a", "k"); return err },
		"Put":    func() error { _, err := s.Put(ctx, "a", "k", []byte("x"), v, 0); return err },
		"Delete": func() error { return s.Delete(ctx, "a", "k", v) },
		"List":   func() error { _, err := s.List(ctx, "a", "", 10); return err },
		"Update": func() error {
			_, err := fleet.Update(ctx, s, "a", "k", 0, func([]byte, bool) ([]byte, error) { return []byte("x"), nil })
			return err
		},
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: got %v, want context.Canceled", name, err)
		}
	}
	wantItem(t, mustGet(t, s, "a", "k"), "k", "value", v)
}
