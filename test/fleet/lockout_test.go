package fleet

import (
	"net/http"
	"testing"
)

// testLockout: failed logins count fleet-wide. lockoutFailures wrong
// passwords for locky, spread over the replicas (one each), lock her out
// on every replica and through HAProxy: even the right password is
// answered 429. Another user from the same address still logs in.
//
// Intended behaviour of issue #13 (lockout counters in the shared store);
// it fails while each replica counts alone (each saw one failure).
func testLockout(t *testing.T, f *fleet) {
	for i := range lockoutFailures {
		addr := f.replicas[i%len(f.replicas)].Addr
		if status, _ := login(t, addr, "locky", "not-her-password", ""); status != http.StatusUnauthorized {
			t.Fatalf("wrong password at replica %d: %d, want 401", i%len(f.replicas)+1, status)
		}
	}
	targets := append([]string{f.lb.Addr}, f.addrs()...)
	for _, addr := range targets {
		if status, _ := login(t, addr, "locky", users["locky"], ""); status != http.StatusTooManyRequests {
			t.Errorf("after %d failures over the fleet, locky's right password at %s: %d, want 429 (locked fleet-wide)", lockoutFailures, addr, status)
		}
	}
	if status, _ := login(t, f.lb.Addr, "alice", users["alice"], ""); status != http.StatusOK {
		t.Errorf("alice, from the same address: %d, want 200", status)
	}
}
