// Package analysis is the gate's side of the layer analysis (package
// layers): it builds each layer's index from the read that verifies its
// diff_id (a diffid.Tap), keeps indexes per blob, assembles an image's
// report from them and its config's history, and judges the report under
// the repository's analysis policy (minimum efficiency, maximum wasted
// bytes or percent; enforce, audit or off).
//
// It imports layers and diffid; push, api and registry import it.
package analysis
