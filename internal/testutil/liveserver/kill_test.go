package liveserver

import (
	"net/http"
	"testing"
)

// TestKillRestart: a killed server stops answering, and the cleanup does not
// count its exit as a failure; Restart brings it back on the same address.
func TestKillRestart(t *testing.T) {
	s := Start(t, self(t), fakeEnv+"=ok")
	pid := s.Pid()
	s.Kill(t)
	if resp, err := http.Get(s.URL + "/readyz"); err == nil {
		_ = resp.Body.Close()
		t.Fatal("a killed server still answers")
	}
	s.Restart(t)
	if s.Pid() == pid {
		t.Errorf("Restart kept pid %d", pid)
	}
	if got := get(t, s.URL+"/args"); got != "serve" {
		t.Errorf("restarted with arguments %q, want serve", got)
	}
}
