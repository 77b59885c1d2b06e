package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/pushclient"
)

// TestTTYView feeds the terminal view the sequence a push produces: bytes
// sent, then the server's stages, and checks what a terminal would show.
func TestTTYView(t *testing.T) {
	var out bytes.Buffer
	v := newTTYView(&out, 80)
	size := int64(100 << 20)
	v.update(pushclient.Progress{UploadID: "u", Sent: 10 << 20, Size: size})
	v.update(pushclient.Progress{UploadID: "u", Sent: 60 << 20, Size: size,
		Server: &pushclient.Status{Stage: "receiving", Stages: []pushclient.StageTiming{{Name: "receiving"}}}})
	v.update(pushclient.Progress{UploadID: "u", Sent: size, Size: size, SendDone: true})
	st := func(names ...string) []pushclient.StageTiming {
		var s []pushclient.StageTiming
		for i, n := range names {
			s = append(s, pushclient.StageTiming{Name: n, DurationMS: int64(10 * (i + 1))})
		}
		return s
	}
	v.update(pushclient.Progress{Sent: size, Size: size, SendDone: true,
		Server: &pushclient.Status{Stage: "validating", BytesReceived: size, Stages: st("receiving", "validating")}})
	v.update(pushclient.Progress{Sent: size, Size: size, SendDone: true,
		Server: &pushclient.Status{Stage: "scanning", BytesReceived: size, Stages: st("receiving", "validating", "scanning")}})
	v.update(pushclient.Progress{Sent: size, Size: size, SendDone: true,
		Server: &pushclient.Status{Stage: "done", BytesReceived: size, Stages: st("receiving", "validating", "scanning", "storing", "recording")}})
	v.finish()
	got := out.String()
	for _, want := range []string{
		"\r\033[K[", " 10% 10.0 MiB / 100.0 MiB", " 60% 60.0 MiB / 100.0 MiB", "100% 100.0 MiB / 100.0 MiB",
		"✓ receiving  10ms  100.0 MiB\n", "… validating 20ms", "✓ validating 20ms\n", "✓ scanning   30ms\n",
		"✓ storing    40ms\n", "✓ recording  50ms\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, got)
		}
	}
	if strings.Count(got, "✓ validating") != 1 || !strings.HasSuffix(got, "\n") {
		t.Errorf("stages repeated or last line open:\n%q", got)
	}
	for _, line := range strings.Split(got, "\r\033[K") {
		if n := len([]rune(strings.TrimSuffix(line, "\n"))); n >= 80 {
			t.Errorf("line of %d columns on an 80-column terminal: %q", n, line)
		}
	}
}
