package exepages

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// AdviseRandom applies madvise(MADV_RANDOM) to every mapping of this
// process that maps the executable's file (found by device and inode in
// /proc/self/maps, so a replaced or deleted binary is still recognised).
// It returns what it advised; an error leaves the mappings it had not
// reached unadvised and is otherwise harmless to ignore.
func AdviseRandom() (Advised, error) {
	return advise(syscall.MADV_RANDOM)
}

// advise applies advice to the executable's mappings.
func advise(advice int) (Advised, error) {
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/exe", &st); err != nil {
		return Advised{}, fmt.Errorf("exepages: stat of the executable: %w", err)
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return Advised{}, fmt.Errorf("exepages: %w", err)
	}
	ms, err := exeMappings(maps, uint64(st.Dev), st.Ino)
	if err != nil {
		return Advised{}, err
	}
	var a Advised
	for _, m := range ms {
		if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, m.start, m.end-m.start, uintptr(advice)); e != 0 {
			return a, fmt.Errorf("exepages: madvise %#x-%#x: %w", m.start, m.end, e)
		}
		a.Mappings++
		a.Bytes += int64(m.end - m.start)
	}
	return a, nil
}

// mapping is one address range of /proc/PID/maps.
type mapping struct{ start, end uintptr }

// exeMappings returns the ranges of the /proc/PID/maps text maps that map
// the file of device dev (as stat's st_dev) and inode ino.
func exeMappings(maps []byte, dev, ino uint64) ([]mapping, error) {
	var out []mapping
	s := bufio.NewScanner(bytes.NewReader(maps))
	for s.Scan() {
		// start-end perms offset major:minor inode [path]
		f := bytes.Fields(s.Bytes())
		if len(f) < 5 {
			continue
		}
		if n, err := strconv.ParseUint(string(f[4]), 10, 64); err != nil || n != ino || n == 0 {
			continue
		}
		major, minor, ok := bytes.Cut(f[3], []byte(":"))
		if !ok {
			continue
		}
		ma, err1 := strconv.ParseUint(string(major), 16, 32)
		mi, err2 := strconv.ParseUint(string(minor), 16, 32)
		if err1 != nil || err2 != nil || mkdev(ma, mi) != dev {
			continue
		}
		lo, hi, ok := bytes.Cut(f[0], []byte("-"))
		if !ok {
			return nil, fmt.Errorf("exepages: /proc/self/maps: bad range %q", f[0])
		}
		start, err1 := strconv.ParseUint(string(lo), 16, 64)
		end, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			return nil, fmt.Errorf("exepages: /proc/self/maps: bad range %q", f[0])
		}
		out = append(out, mapping{uintptr(start), uintptr(end)})
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("exepages: /proc/self/maps: %w", err)
	}
	return out, nil
}

// mkdev is Linux's encoding of a device number (glibc's makedev), as in
// stat's st_dev.
func mkdev(major, minor uint64) uint64 {
	return (major&0xfff)<<8 | (major&^0xfff)<<32 | minor&0xff | (minor&^0xff)<<12
}
