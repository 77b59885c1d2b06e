// Package procstat reads and resets a process's memory figures in /proc,
// for the benches that measure servers as processes (cmd/imagegate-bench,
// test/s3bench).
package procstat

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ResetPeakRSS resets the peak RSS (VmHWM) of process pid to its current
// RSS (/proc/PID/clear_refs, "5"; the process must be this user's).
func ResetPeakRSS(pid int) error {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		return fmt.Errorf("procstat: resetting the peak RSS of %d: %w", pid, err)
	}
	return nil
}

// Status is the kB field (VmHWM, VmRSS, RssAnon…) of /proc/PID/status,
// in bytes.
func Status(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("procstat: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("procstat: /proc/%d/status: %s: %w", pid, field, err)
			}
			return kb << 10, nil
		}
	}
	if err := s.Err(); err != nil {
		return 0, fmt.Errorf("procstat: /proc/%d/status: %w", pid, err)
	}
	return 0, fmt.Errorf("procstat: no %s in /proc/%d/status", field, pid)
}

// SamplePeak samples the kB field (RssAnon…) of process pid's status
// at once and every 20 ms — the kernel keeps a peak of the whole RSS only
// (VmHWM, which counts the binary's file-backed pages) — until the
// returned function is called; that samples once more and returns the
// highest sample in bytes (0 when no read succeeded).
func SamplePeak(pid int, field string) (stop func() int64) {
	quit, done := make(chan struct{}), make(chan int64)
	go func() {
		var peak int64
		sample := func() {
			if n, err := Status(pid, field); err == nil {
				peak = max(peak, n)
			}
		}
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			sample()
			select {
			case <-quit:
				sample()
				done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 { close(quit); return <-done }
}
