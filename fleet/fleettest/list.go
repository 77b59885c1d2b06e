package fleettest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/imagegate/imagegate/fleet"
)

// listKeys returns the keys List(space, after, limit) returns.
func listKeys(t *testing.T, s fleet.Store, space, after string, limit int) []string {
	t.Helper()
	items, err := s.List(t.Context(), space, after, limit)
	if err != nil {
		t.Fatalf("List %s after %q limit %d: %v", space, after, limit, err)
	}
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.Key
	}
	return keys
}

// putKeys creates items named prefix+"000".. in space, in random order,
// with value = key, and returns the keys in ascending order.
func putKeys(t *testing.T, s fleet.Store, space, prefix string, n int) []string {
	t.Helper()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s%03d", prefix, i)
	}
	for _, i := range rand.Perm(n) {
		mustPut(t, s, space, keys[i], keys[i], 0, 0)
	}
	return keys
}

// testListPaged: pages of 7 through 25 items join to all of them in key
// order, none skipped or repeated, with their values and versions, every
// page but the last full; other
// spaces, including one whose name extends this one's, stay apart; after
// need not be a stored key.
func testListPaged(t *testing.T, s fleet.Store) {
	want := putKeys(t, s, "a", "k", 25)
	other := putKeys(t, s, "a-b", "k", 3)
	putKeys(t, s, "b", "j", 4)

	var got []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > len(want) {
			t.Fatalf("paging does not end: %v", got)
		}
		items, err := s.List(t.Context(), "a", after, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) > 7 {
			t.Fatalf("page of %d items, limit 7", len(items))
		}
		for _, it := range items {
			if string(it.Value) != it.Key || it.Version == 0 {
				t.Errorf("item %q = %q v%d", it.Key, it.Value, it.Version)
			}
			got = append(got, it.Key)
		}
		if len(items) < 7 {
			break // the last page
		}
		after = items[len(items)-1].Key
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pages joined:\n got %v\nwant %v", got, want)
	}
	if got := listKeys(t, s, "a-b", "", 0); !slices.Equal(got, other) {
		t.Errorf("space a-b: %v, want %v", got, other)
	}
	if got := listKeys(t, s, "c", "", 0); len(got) != 0 {
		t.Errorf("empty space: %v", got)
	}
	if got := listKeys(t, s, "a", "k010x", 3); !slices.Equal(got, want[11:14]) {
		t.Errorf("after a key not stored: %v, want %v", got, want[11:14])
	}
	if got := listKeys(t, s, "a", "k024", 3); len(got) != 0 {
		t.Errorf("after the last key: %v", got)
	}
}

// testListLimit: limit bounds a page; below 1 or above MaxListLimit it
// is MaxListLimit.
func testListLimit(t *testing.T, s fleet.Store) {
	all := putKeys(t, s, "a", "k", 12)
	for _, tc := range []struct{ limit, want int }{
		{1, 1}, {5, 5}, {11, 11}, {12, 12}, {13, 12}, {0, 12}, {-1, 12}, {fleet.MaxListLimit + 1, 12},
	} {
		if got := listKeys(t, s, "a", "", tc.limit); !slices.Equal(got, all[:tc.want]) {
			t.Errorf("limit %d: %v, want %v", tc.limit, got, all[:tc.want])
		}
	}
}

// testListMaxLimit: a page holds at most MaxListLimit items, however
// large the limit asked.
func testListMaxLimit(t *testing.T, s fleet.Store) {
	n := fleet.MaxListLimit + 2
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			key := fmt.Sprintf("k%05d", i)
			if _, err := s.Put(t.Context(), "a", key, []byte(strings.Repeat("v", 100)), 0, 0); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, limit := range []int{0, n} {
		got := listKeys(t, s, "a", "", limit)
		if len(got) != fleet.MaxListLimit || got[0] != "k00000" || got[len(got)-1] != fmt.Sprintf("k%05d", fleet.MaxListLimit-1) {
			t.Errorf("limit %d: %d items", limit, len(got))
		}
	}
	if got := listKeys(t, s, "a", fmt.Sprintf("k%05d", fleet.MaxListLimit-1), 0); len(got) != 2 {
		t.Errorf("second page: %v", got)
	}
}
