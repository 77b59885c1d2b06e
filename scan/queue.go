package scan

// Queue is implemented by scanners that run scans on a bounded set of
// workers and let further scans wait for one (scan/trivy; the scanner
// pool's server in scan/remote). Metered exports it as gauges, also
// through scanners that wrap one (QueueOf).
type Queue interface {
	// QueueStats reports the scanner's workers and queue at this moment,
	// and the waits for a worker so far. It must not block.
	QueueStats() QueueStats
}

// QueueStats is a snapshot of a scanner's workers and queue.
type QueueStats struct {
	// Workers bounds the scans running at once.
	Workers int
	// Running and Waiting count the scans holding a worker and those
	// waiting for one.
	Running, Waiting int
	// Waits counts the scans that got a worker, or gave up waiting for
	// one; WaitSeconds is the total time they waited (a scan that found a
	// free worker waited zero).
	Waits       uint64
	WaitSeconds float64
}

// Wrapper is implemented by a Scanner that wraps another and adds no
// queue of its own (scan/detach): QueueOf looks through it.
type Wrapper interface {
	Unwrap() Scanner
}

// maxUnwrap bounds the wrappers QueueOf looks through.
const maxUnwrap = 8

// QueueOf returns the Queue of s, or of the scanner s wraps (Wrapper,
// through at most maxUnwrap wrappers); false when none has one (a
// scanner pool's client: the pool's scanners export their queues).
func QueueOf(s Scanner) (Queue, bool) {
	for range maxUnwrap {
		if q, ok := s.(Queue); ok {
			return q, true
		}
		w, ok := s.(Wrapper)
		if !ok {
			return nil, false
		}
		s = w.Unwrap()
	}
	return nil, false
}
