package procstat

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestPeakRSSFollowsTheProcess: touching 64 MiB raises this process's
// peak RSS by about that much; once the memory is returned, a reset
// brings the peak down to the current RSS, and touching 64 MiB again
// raises it again, and SamplePeak sees that in RssAnon; a missing field
// is an error, not 0.
func TestPeakRSSFollowsTheProcess(t *testing.T) {
	pid := os.Getpid()
	status := func(field string) int64 {
		t.Helper()
		n, err := Status(pid, field)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	touch := func() {
		b := make([]byte, 64<<20)
		for i := range b {
			b[i] = byte(i)
		}
		keep = b
	}
	touch()
	peak := status("VmHWM")
	if peak < 64<<20 {
		t.Fatalf("VmHWM %d after touching 64 MiB", peak)
	}
	keep = nil
	debug.FreeOSMemory()
	if err := ResetPeakRSS(pid); err != nil {
		t.Fatal(err)
	}
	reset := status("VmHWM")
	// (VmRSS is read after VmHWM: reading /proc may have touched a page since.)
	if rss := status("VmRSS"); reset > peak-32<<20 || rss > reset+1<<20 {
		t.Fatalf("VmHWM %d after the reset (peak before %d), VmRSS %d", reset, peak, rss)
	}
	anon := status("RssAnon")
	stop := SamplePeak(pid, "RssAnon")
	touch()
	if again := status("VmHWM"); again < reset+48<<20 {
		t.Errorf("VmHWM %d after touching 64 MiB again, %d before", again, reset)
	}
	if peak := stop(); peak < anon+48<<20 {
		t.Errorf("sampled RssAnon peak %d after touching 64 MiB, %d before", peak, anon)
	}
	if _, err := Status(pid, "NoSuchField"); err == nil {
		t.Error("a missing field gave no error")
	}
}

// keep holds the touched memory so that the compiler cannot drop it.
var keep []byte
