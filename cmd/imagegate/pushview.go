package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/imagegate/imagegate/pushclient"
)

// progressView shows a push's progress on standard error.
type progressView interface {
	update(pushclient.Progress)
	finish()
}

// ttyView draws a bar (bytes, rate, ETA) redrawn in place while sending,
// then one line per stage of the gate with its duration.
type ttyView struct {
	mu      sync.Mutex
	w       io.Writer
	width   int
	start   time.Time
	stage   string // the server's current stage, as last drawn
	printed int    // stages already printed as finished
	last    pushclient.Progress
	onLine  bool // the cursor is on a line being redrawn
}

func newTTYView(w io.Writer, width int) *ttyView {
	return &ttyView{w: w, width: width, start: time.Now()}
}

func (v *ttyView) update(p pushclient.Progress) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.last = p
	if s := p.Server; s != nil && s.Stage != "" && s.Stage != "receiving" {
		v.stages(s)
		return
	}
	v.redraw(bar(p, time.Since(v.start), v.width))
}

// stages prints the stages that have finished and redraws the current one.
func (v *ttyView) stages(s *pushclient.Status) {
	ended := s.Stage == "done" || s.Stage == "failed"
	for i := v.printed; i < len(s.Stages); i++ {
		st := s.Stages[i]
		if i == len(s.Stages)-1 && !ended {
			break
		}
		line := fmt.Sprintf("✓ %-10s %s", st.Name, msDuration(st.DurationMS))
		if st.Name == "receiving" {
			line += "  " + humanBytes(s.BytesReceived)
		}
		v.redraw(line)
		fmt.Fprintln(v.w)
		v.onLine = false
		v.printed = i + 1
	}
	if !ended {
		cur := s.Stages[len(s.Stages)-1]
		v.redraw(fmt.Sprintf("… %-10s %s", cur.Name, msDuration(cur.DurationMS)))
	}
	v.stage = s.Stage
}

func (v *ttyView) redraw(line string) {
	if r := []rune(line); len(r) >= v.width {
		line = string(r[:v.width-1])
	}
	fmt.Fprintf(v.w, "\r\033[K%s", line)
	v.onLine = true
}

func (v *ttyView) finish() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.onLine {
		fmt.Fprintln(v.w)
		v.onLine = false
	}
}

// bar renders bytes sent, a bar when the total is known, the rate and the ETA.
func bar(p pushclient.Progress, elapsed time.Duration, width int) string {
	rate := float64(p.Sent) / max(elapsed.Seconds(), 0.001)
	stats := fmt.Sprintf(" %s  %s/s", humanBytes(p.Sent), humanBytes(int64(rate)))
	if p.Size <= 0 {
		return "sending" + stats
	}
	frac := min(float64(p.Sent)/float64(p.Size), 1)
	stats = fmt.Sprintf(" %3.0f%% %s / %s  %s/s", frac*100, humanBytes(p.Sent), humanBytes(p.Size), humanBytes(int64(rate)))
	if rate > 0 && p.Sent < p.Size {
		stats += "  ETA " + time.Duration(float64(p.Size-p.Sent)/rate*float64(time.Second)).Round(time.Second).String()
	}
	// A fixed budget for the figures keeps the bar's length steady.
	n := max(width-len(" 100% 1023.9 MiB / 1023.9 MiB  1023.9 MiB/s  ETA 1h59m59s")-3, 10)
	filled := int(frac * float64(n))
	return "[" + strings.Repeat("=", filled) + strings.Repeat(" ", n-filled) + "]" + stats
}

// plainView writes whole lines (logs, CI): the bytes sent at every tenth
// (or every 5 s when the size is unknown), and each stage as it starts.
type plainView struct {
	mu       sync.Mutex
	w        io.Writer
	start    time.Time
	lastLine time.Time
	tenth    int64
	printed  int // stages printed as finished
	ended    bool
	sendDone bool
}

func newPlainView(w io.Writer) *plainView {
	return &plainView{w: w, start: time.Now(), tenth: -1}
}

func (v *plainView) update(p pushclient.Progress) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.tenth < 0 {
		v.tenth = 0
		size := "unknown size"
		if p.Size >= 0 {
			size = humanBytes(p.Size)
		}
		fmt.Fprintf(v.w, "upload %s: sending (%s)\n", p.UploadID, size)
	}
	if !p.SendDone && p.Server == nil || (p.Server != nil && p.Server.Stage == "receiving") {
		v.sent(p)
	}
	if p.SendDone && !v.sendDone {
		v.sendDone = true
		elapsed := time.Since(v.start)
		fmt.Fprintf(v.w, "sent %s in %s (%s/s)\n", humanBytes(p.Sent), elapsed.Round(time.Millisecond),
			humanBytes(int64(float64(p.Sent)/max(elapsed.Seconds(), 0.001))))
	}
	if s := p.Server; s != nil && !v.ended {
		ended := s.Stage == "done" || s.Stage == "failed"
		for ; v.printed < len(s.Stages); v.printed++ {
			st := s.Stages[v.printed]
			if v.printed == len(s.Stages)-1 && !ended {
				break
			}
			fmt.Fprintf(v.w, "stage %s: %s\n", st.Name, msDuration(st.DurationMS))
		}
		switch {
		case s.Stage == "done":
			fmt.Fprintln(v.w, "done")
		case s.Stage == "failed" && s.Error != nil:
			fmt.Fprintf(v.w, "failed: %s: %s\n", s.Error.Code, s.Error.Message)
		}
		v.ended = ended
	}
}

func (v *plainView) sent(p pushclient.Progress) {
	if p.Size > 0 {
		if t := p.Sent * 10 / p.Size; t > v.tenth && t < 10 {
			v.tenth = t
			fmt.Fprintf(v.w, "sent %s / %s (%d%%)\n", humanBytes(p.Sent), humanBytes(p.Size), t*10)
		}
		return
	}
	if time.Since(v.lastLine) >= 5*time.Second {
		v.lastLine = time.Now()
		fmt.Fprintf(v.w, "sent %s\n", humanBytes(p.Sent))
	}
}

func (v *plainView) finish() {}

func msDuration(ms int64) string {
	return (time.Duration(ms) * time.Millisecond).String()
}

// humanBytes formats n in binary units.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
