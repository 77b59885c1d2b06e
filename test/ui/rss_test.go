package ui

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rssSampler follows the resident memory of process trees (Linux /proc)
// while something runs: for each tree, the largest sum over its processes
// and the largest single process seen, sampled every interval.
type rssSampler struct {
	roots []int
	stop  chan struct{}
	done  sync.WaitGroup

	mu sync.Mutex
	// peakSum and peakOne are per root, in bytes.
	peakSum, peakOne []int64
}

// sampleInterval is how often the trees are looked at.
const sampleInterval = 50 * time.Millisecond

// startRSS starts sampling the trees under roots (process ids).
func startRSS(roots ...int) *rssSampler {
	s := &rssSampler{roots: roots, stop: make(chan struct{}), peakSum: make([]int64, len(roots)), peakOne: make([]int64, len(roots))}
	s.sample()
	s.done.Go(func() {
		tick := time.NewTicker(sampleInterval)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
				s.sample()
			}
		}
	})
	return s
}

// end stops sampling (after one last sample) and returns the peaks.
func (s *rssSampler) end() (peakSum, peakOne []int64) {
	close(s.stop)
	s.done.Wait()
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peakSum, s.peakOne
}

func (s *rssSampler) sample() {
	parents := processParents()
	for i, root := range s.roots {
		var sum, one int64
		for pid := range parents {
			if !descends(pid, root, parents) {
				continue
			}
			rss := procStatusBytes(pid, "VmRSS")
			sum += rss
			one = max(one, rss)
		}
		s.mu.Lock()
		s.peakSum[i] = max(s.peakSum[i], sum)
		s.peakOne[i] = max(s.peakOne[i], one)
		s.mu.Unlock()
	}
}

// descends reports whether pid is root or below it.
func descends(pid, root int, parents map[int]int) bool {
	for range 64 { // bounded: a tree is never that deep
		if pid == root {
			return true
		}
		p, ok := parents[pid]
		if !ok || p <= 1 {
			return false
		}
		pid = p
	}
	return false
}

// processParents maps every process id to its parent's.
func processParents() map[int]int {
	out := map[int]int{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces and parentheses.
		rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
		f := strings.Fields(rest)
		if len(f) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil {
			out[pid] = ppid
		}
	}
	return out
}

// procStatusBytes is a "kB" field of /proc/PID/status (VmRSS, VmHWM) in
// bytes, 0 when unreadable.
func procStatusBytes(pid int, field string) int64 {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}
