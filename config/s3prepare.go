package config

import "slices"

// S3PrepareModes are the accepted values of storage.s3.prepare.
var S3PrepareModes = []string{"off", "check", "apply"}

// S3Lifecycle holds the lifecycle rules that `imagegate bucket init` (and
// storage.s3.prepare) set on the bucket, in days; 0 omits a rule. See
// docs/s3.md, "Bucket preparation".
type S3Lifecycle struct {
	// AbortIncompleteDays aborts multipart uploads unfinished after this long.
	AbortIncompleteDays int `yaml:"abortincompletedays"`
	// NoncurrentDays expires overwritten and deleted versions after this long.
	NoncurrentDays int `yaml:"noncurrentdays"`
	// LeftoverDays expires the driver's probe and tail objects
	// (ROOTDIRECTORY/_imagegate/) and direct uploads never completed
	// (ROOTDIRECTORY/imagegate-staging/).
	LeftoverDays int `yaml:"leftoverdays"`
	// TransitionDays moves objects to TransitionClass after this long (both or neither).
	TransitionDays  int    `yaml:"transitiondays"`
	TransitionClass string `yaml:"transitionclass"`
}

func defaultS3Lifecycle() S3Lifecycle {
	return S3Lifecycle{AbortIncompleteDays: 7, NoncurrentDays: 30, LeftoverDays: 7}
}

// validatePrepare checks storage.s3.prepare and storage.s3.lifecycle.
func (s *S3) validatePrepare(bad func(key, format string, args ...any)) {
	if !slices.Contains(S3PrepareModes, s.Prepare) {
		bad("storage.s3.prepare", "must be off, check or apply, got %q", s.Prepare)
	}
	l := s.Lifecycle
	for key, d := range map[string]int{"abortincompletedays": l.AbortIncompleteDays, "noncurrentdays": l.NoncurrentDays,
		"leftoverdays": l.LeftoverDays, "transitiondays": l.TransitionDays} {
		if d < 0 || d > 36500 {
			bad("storage.s3.lifecycle."+key, "must be between 0 (no rule) and 36500 days, got %d", d)
		}
	}
	if (l.TransitionDays > 0) != (l.TransitionClass != "") {
		bad("storage.s3.lifecycle.transitionclass", "transitiondays and transitionclass must be set together")
	}
}
