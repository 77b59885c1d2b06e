package security

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
)

// tally is one key's recent events in the fleet store: at most a rule's
// threshold of marks within its window, oldest first, and the end of the
// cooldown after the last alert.
type tally struct {
	Marks []mark    `json:"m,omitempty"`
	Quiet time.Time `json:"q,omitzero"`
}

// mark is one event counted: its value (a distinct member, or a sample
// for people) and when it happened.
type mark struct {
	V string    `json:"v"`
	T time.Time `json:"t"`
}

// maxMarkValue bounds a mark's value, so that a tally of the largest
// threshold fits an item of the store.
const maxMarkValue = 100

// errQuiet ends an update that would change nothing worth writing (the key
// is cooling down, or the event is known): nothing is written.
var errQuiet = errors.New("security: nothing to write")

// storeKey is the fleet key of a detector's key: a digest, so that any
// username, address or repository makes a valid key and none is stored in
// clear.
func storeKey(detector, key string) string {
	return detector + ":" + digestOf(key)
}

// digestOf is a short digest of s (128 bits, hex).
func digestOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

// count records one event of value v for key under rule. With distinct,
// only distinct values count (an event with a value already marked renews
// its time); otherwise every event does and v is kept as a sample. When
// this event brings the marks within rule.Window to rule.Threshold, count
// clears them, starts the cooldown and returns them: the caller raises one
// alert. Otherwise it returns nil. While the key cools down, events are
// neither counted nor written.
//
// Replicas sharing the store count together: the state moves by
// compare-and-swap, so exactly one event — on one replica — makes the
// rule fire.
func (m *Monitor) count(ctx context.Context, detector, key, v string, distinct bool, rule config.SecurityRule) ([]mark, error) {
	if len(v) > maxMarkValue {
		v = v[:maxMarkValue]
	}
	var fired []mark
	_, err := fleet.Update(ctx, m.store, Space, storeKey(detector, key), rule.Window+rule.Cooldown, func(cur []byte, exists bool) ([]byte, error) {
		fired = nil
		var t tally
		if exists && json.Unmarshal(cur, &t) != nil {
			t = tally{} // a state that does not decode starts again
		}
		now := m.now()
		if now.Before(t.Quiet) {
			return nil, errQuiet
		}
		t.Marks = slices.DeleteFunc(t.Marks, func(k mark) bool { return now.Sub(k.T) >= rule.Window })
		i := -1
		if distinct {
			i = slices.IndexFunc(t.Marks, func(k mark) bool { return k.V == v })
		}
		if i >= 0 {
			t.Marks = append(slices.Delete(t.Marks, i, i+1), mark{V: v, T: now})
		} else {
			t.Marks = append(t.Marks, mark{V: v, T: now})
		}
		if len(t.Marks) >= rule.Threshold {
			fired = t.Marks
			t = tally{Quiet: now.Add(rule.Cooldown)}
		}
		return json.Marshal(t)
	})
	if errors.Is(err, errQuiet) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("security: counting %s: %w", detector, err)
	}
	return fired, nil
}

// cooldown reports whether an alert on key may be raised now, and if so
// starts key's cooldown: of concurrent callers, one gets true.
func (m *Monitor) cooldown(ctx context.Context, detector, key string, d time.Duration) (bool, error) {
	ok, err := m.count(ctx, detector, key, "", false, config.SecurityRule{Threshold: 1, Window: time.Second, Cooldown: d})
	return ok != nil, err
}

// values are the distinct values of marks, at most n, newest last.
func values(marks []mark, n int) []string {
	var out []string
	for i := len(marks) - 1; i >= 0 && len(out) < n; i-- {
		if !slices.Contains(out, marks[i].V) {
			out = append(out, marks[i].V)
		}
	}
	slices.Reverse(out)
	return out
}
