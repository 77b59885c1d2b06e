package shim

import (
	"testing"
	"time"
)

func TestOriginalPath(t *testing.T) {
	at := time.Date(2026, 11, 27, 18, 45, 1, 0, time.FixedZone("CET", 3600))
	for _, c := range []struct{ user, want string }{
		{"", "anonymous"},
		{"alice", "alice"},
		{"robot$ci", "robot_ci"},
		{"alice@example.com", "alice_example.com"},
		{"../etc", ".._etc"},
		{"..", "_.."},
		{".", "_."},
		{"a/b", "a_b"},
		{"ünï", "_n_"},
	} {
		got := originalPath(c.user, at, "0b6c6ad5-6f1e-4bde-9d0a-5b2f8e0c7a11", ".tar.gz")
		want := "/imagegate/archive/images/" + c.want + "/20261127T174501Z/0b6c6ad5-6f1e-4bde-9d0a-5b2f8e0c7a11.tar.gz"
		if got != want {
			t.Errorf("user %q: %s, want %s", c.user, got, want)
		}
	}
	long := originalPath(string(make([]byte, 300)), at, "x", ".tar")
	if len(long) > len("/imagegate/archive/images//20261127T174501Z/x.tar")+128 {
		t.Errorf("a long user name is not cut: %d bytes", len(long))
	}
}
