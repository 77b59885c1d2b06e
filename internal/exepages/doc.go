// Package exepages advises the kernel about the running executable's own
// file-backed mappings (its text, read-only data and data segments).
//
// imagegate's binary is large (Trivy is linked in), and on a device with a
// large read-ahead window (read_ahead_kb) each page fault in it reads and
// maps a whole run of the file around the page: most of a freshly started
// server's resident memory is then pages of its binary it never touched.
// AdviseRandom marks those mappings MADV_RANDOM, so that a fault reads in
// and maps the page it needs only. The advice changes nothing the program
// computes; it applies to faults after the call (pages already mapped stay
// mapped), so serve calls it first thing. On systems other than Linux it
// does nothing.
package exepages

// Advised says what AdviseRandom advised.
type Advised struct {
	Mappings int   // mappings of the executable's file advised
	Bytes    int64 // their total length
}
