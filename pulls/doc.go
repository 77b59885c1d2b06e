// Package pulls records when each manifest was last pulled, cheaply and
// off the pull's hot path: a successful manifest GET is noted in a bounded
// in-memory buffer of this replica (Tracker.Note: a map update under a
// mutex, no I/O), and the buffer is flushed every interval to the fleet
// store, one item per (repository, digest) holding the latest pull time
// and the tag it was pulled by. Writes merge by compare-and-swap and never
// move a time backwards, so replicas flushing the same key converge to
// the latest pull whatever their order.
//
// A replica that crashes loses the pulls noted since its last flush (at
// most one interval); a graceful shutdown flushes. A full buffer drops
// pulls of keys it does not hold yet, and counts them (Stats.Dropped).
//
// Retention reads the times back (Reader) to keep tags pulled recently
// (lifecycle.retention[].keeppulleddays), and the API shows them beside
// each tag. The first flush of a deployment leaves a marker (Since): pulls
// before it are unknown, so retention does not treat a tag as unpulled
// for longer than the tracking has run.
package pulls
