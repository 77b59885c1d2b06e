package ui

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/imagegate/imagegate/fleet"
)

// TestOIDCStateSingleUse: of concurrent callbacks with one state, exactly
// one gets the sign-in; afterwards the state is gone.
func TestOIDCStateSingleUse(t *testing.T) {
	h := &Handler{opts: Options{Sessions: fleet.NewMemory(100)}}
	state := newToken()
	v, _ := json.Marshal(oidcState{Verifier: "v", Nonce: "n", Next: "/ui/repositories"})
	if _, err := h.opts.Sessions.Put(t.Context(), OIDCStateSpace, storeKey(state), v, 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for range 8 {
		wg.Go(func() {
			st, err := h.takeOIDCState(t.Context(), state)
			switch {
			case err == nil && st.Nonce == "n":
				mu.Lock()
				wins++
				mu.Unlock()
			case err != nil && !errors.Is(err, fleet.ErrNotFound) && !errors.Is(err, fleet.ErrConflict):
				t.Errorf("take: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d callbacks got the sign-in, want 1", wins)
	}
	if _, err := h.takeOIDCState(t.Context(), state); !errors.Is(err, fleet.ErrNotFound) {
		t.Fatalf("after use: %v, want ErrNotFound", err)
	}
}
