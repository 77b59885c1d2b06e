package liveserver

import (
	"testing"
)

// Kill ends the process with SIGKILL, as a crash or an OOM kill would, and
// waits until it has exited. The test's cleanup then expects no exit
// status; Restart runs the process again.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatalf("liveserver: SIGKILL %s: %v", s.Addr, err)
	}
	<-s.exited
	s.killed = true
}

// Restart runs a killed server again with the same command line,
// environment, addresses and directories (its output appended to
// LogPath), and returns once GET /readyz answers 200. It fails the test
// when the server was not killed or does not become ready.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if !s.killed {
		t.Fatalf("liveserver: Restart of %s, which was not killed", s.Addr)
	}
	if err := s.launch(); err != nil {
		t.Fatalf("liveserver: %v", err)
	}
	if err := s.waitReady(t.Context()); err != nil {
		t.Fatalf("liveserver: %s serve on %s after a restart: %v", s.bin, s.Addr, err)
	}
}

// Pid is the process id of the running server (for RSS readings).
func (s *Server) Pid() int { return s.cmd.Process.Pid }
