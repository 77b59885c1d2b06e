package exepages

import (
	"bufio"
	"bytes"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// smapsFlags returns the VmFlags of each of this process's mappings of
// the executable's file, in /proc/self/smaps.
func smapsFlags(t *testing.T) [][]string {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/exe", &st); err != nil {
		t.Fatal(err)
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	exe := false
	s := bufio.NewScanner(bytes.NewReader(smaps))
	for s.Scan() {
		line := s.Text()
		if flags, ok := strings.CutPrefix(line, "VmFlags:"); ok {
			if exe {
				out = append(out, strings.Fields(flags))
			}
			continue
		}
		// A mapping's header: "start-end perms offset dev inode [path]";
		// the fields lines ("Rss:   4 kB") have a colon in their first word.
		f := strings.Fields(line)
		if len(f) >= 5 && !strings.HasSuffix(f[0], ":") {
			ms, err := exeMappings([]byte(line), uint64(st.Dev), st.Ino)
			if err != nil {
				t.Fatal(err)
			}
			exe = len(ms) == 1
		}
	}
	if len(out) == 0 {
		t.Fatal("no mapping of the executable in /proc/self/smaps")
	}
	return out
}

// TestAdviseRandomMarksTheExecutable: before the call no mapping of the
// test binary is marked random-read ("rr" in smaps' VmFlags); after it,
// every one is, and what it reports matches.
func TestAdviseRandomMarksTheExecutable(t *testing.T) {
	before := smapsFlags(t)
	for _, f := range before {
		if slices.Contains(f, "rr") {
			t.Fatalf("a mapping of the executable is already random-read: %v", f)
		}
	}
	a, err := AdviseRandom()
	if err != nil {
		t.Fatal(err)
	}
	after := smapsFlags(t)
	for _, f := range after {
		if !slices.Contains(f, "rr") {
			t.Errorf("a mapping of the executable is not random-read after AdviseRandom: %v", f)
		}
	}
	if a.Mappings != len(after) || a.Bytes <= 0 {
		t.Errorf("AdviseRandom reported %+v; smaps has %d mappings of the executable", a, len(after))
	}
}

// TestExeMappings: only the lines of the given device and inode count,
// whatever their path says (a binary replaced on disk shows "(deleted)").
func TestExeMappings(t *testing.T) {
	maps := `00400000-00b00000 r-xp 00000000 fe:01 1234 /usr/bin/imagegate
00b00000-01000000 r--p 00700000 fe:01 1234 /usr/bin/imagegate (deleted)
01000000-01001000 rw-p 00c00000 fe:02 1234 /other/device
01001000-01002000 rw-p 00000000 fe:01 4321 /usr/bin/other
c000000000-c004000000 rw-p 00000000 00:00 0
7ffd0000-7ffd1000 r-xp 00000000 00:00 0 [vdso]
`
	got, err := exeMappings([]byte(maps), mkdev(0xfe, 0x01), 1234)
	if err != nil {
		t.Fatal(err)
	}
	want := []mapping{{0x400000, 0xb00000}, {0xb00000, 0x1000000}}
	if !slices.Equal(got, want) {
		t.Fatalf("exeMappings = %x, want %x", got, want)
	}
	if _, err := exeMappings([]byte("zz-yy r-xp 0 fe:01 1234 /x\n"), mkdev(0xfe, 1), 1234); err == nil {
		t.Fatal("a bad range of the executable was accepted")
	}
}

// TestMkdevMatchesStat: mkdev of the major and minor numbers in
// /proc/self/maps is stat's st_dev (checked on the executable itself, and
// on numbers above 255 and 4095 where the encoding splits them).
func TestMkdevMatchesStat(t *testing.T) {
	// major 0x103: bits 8-19; minor 0x1ff: its low byte, the rest from bit 20.
	if got := mkdev(0x103, 0x1ff); got != 0x1103ff {
		t.Errorf("mkdev(0x103, 0x1ff) = %#x, want 0x1103ff", got)
	}
	if len(smapsFlags(t)) == 0 {
		t.Fatal("no mapping of the executable found by device and inode")
	}
}
