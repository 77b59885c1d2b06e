// Package lifecycle holds the rules that govern what may happen to a
// registry's content after it was pushed: which tags are immutable (a tag
// matching a rule may be created, and re-pointed at the digest it already
// names, but never moved to another digest or deleted), and who may
// override them (an administrator sending OverrideHeader with a reason).
//
// The package decides; it writes nothing. The push pipeline asks it under
// the tag lock before any tag moves (push.Pipeline.Commit), and the guard
// on distribution's handlers asks it before a tag or manifest deletion
// (middleware), so every path that writes or removes a tag obeys the same
// rules (docs/lifecycle.md).
package lifecycle
