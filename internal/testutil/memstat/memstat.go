// Package memstat measures what tests allocate.
package memstat

import "runtime"

// Allocated is how many bytes the process allocated while f ran (a
// server started by the test is in the process too), after a GC so that
// earlier garbage is not counted. Run nothing else meanwhile.
func Allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
