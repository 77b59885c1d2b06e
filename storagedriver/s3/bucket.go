package s3

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// BucketOptions are the bucket settings of `imagegate bucket init` that the
// driver's Config does not already imply (encryption follows encrypt, keyid
// and bucketkey; the rules are scoped to rootdirectory). Day counts of 0
// omit their lifecycle rule.
type BucketOptions struct {
	// AbortIncompleteUploadDays aborts multipart uploads left incomplete
	// this many days after they started (their parts cost storage).
	AbortIncompleteUploadDays int32
	// NoncurrentVersionDays expires overwritten or deleted object versions
	// this many days after they became noncurrent (and then the delete
	// markers left without versions).
	NoncurrentVersionDays int32
	// LeftoverDays expires the driver's own probe objects
	// (ROOTDIRECTORY/_imagegate/) after this many days.
	LeftoverDays int32
	// TransitionDays moves current objects to TransitionClass after this
	// many days (both set, or neither).
	TransitionDays  int32
	TransitionClass string
	// RequireTLS adds the policy statement denying requests without TLS
	// (aws:SecureTransport false). DefaultBucketOptions turns it off for
	// plain-http endpoints, which the statement would lock out.
	RequireTLS bool
}

// Defaults of DefaultBucketOptions.
const (
	DefaultAbortIncompleteUploadDays = 7
	DefaultNoncurrentVersionDays     = 30
	DefaultLeftoverDays              = 7
)

// DefaultBucketOptions returns the options for a bucket used with c.
func DefaultBucketOptions(c Config) BucketOptions {
	return BucketOptions{
		AbortIncompleteUploadDays: DefaultAbortIncompleteUploadDays,
		NoncurrentVersionDays:     DefaultNoncurrentVersionDays,
		LeftoverDays:              DefaultLeftoverDays,
		RequireTLS:                !plainHTTP(c.RegionEndpoint),
	}
}

func plainHTTP(endpoint string) bool {
	return strings.HasPrefix(strings.ToLower(endpoint), "http://")
}

// Validate reports the first invalid option.
func (o BucketOptions) Validate() error {
	for name, d := range map[string]int32{
		"abort incomplete upload days": o.AbortIncompleteUploadDays, "noncurrent version days": o.NoncurrentVersionDays,
		"leftover days": o.LeftoverDays, "transition days": o.TransitionDays,
	} {
		if d < 0 {
			return fmt.Errorf("s3 bucket: %s %d must not be negative", name, d)
		}
	}
	if (o.TransitionDays > 0) != (o.TransitionClass != "") {
		return errors.New("s3 bucket: transition days and transition class must be set together")
	}
	return nil
}

// PrepareMode says whether PrepareBucket changes the bucket.
type PrepareMode int

const (
	// PrepareCheck only reads the bucket and reports its drift.
	PrepareCheck PrepareMode = iota
	// PrepareApply creates the bucket if missing and applies every setting
	// that drifted, then reads it back.
	PrepareApply
)

// SettingState is the outcome of one bucket setting.
type SettingState string

const (
	// StateInSync: the bucket already had the setting; nothing was sent.
	StateInSync SettingState = "in sync"
	// StateDrift: the setting differs (PrepareCheck); apply would change it.
	StateDrift SettingState = "drift"
	// StateChanged: the setting differed and was applied, and reads back right.
	StateChanged SettingState = "changed"
	// StateUnsupported: the store does not implement the setting (501).
	StateUnsupported SettingState = "unsupported"
	// StateFailed: reading or applying failed; Err says why (and which
	// permission was missing).
	StateFailed SettingState = "FAILED"
)

// SettingResult is what PrepareBucket found and did for one setting.
type SettingResult struct {
	// Setting names it: bucket, ownership, public-access-block,
	// encryption, versioning, lifecycle, policy.
	Setting string
	State   SettingState
	// Current and Desired describe the setting when it drifted (Current
	// is "none" when absent).
	Current, Desired string
	// Note adds context (e.g. a statement left out and why).
	Note string
	Err  error
}

// BucketReport lists the result of every setting, in the order applied.
type BucketReport struct {
	Bucket  string
	Results []SettingResult
}

// Changes returns the settings that drifted (and were changed in apply mode).
func (r BucketReport) Changes() []SettingResult {
	var out []SettingResult
	for _, s := range r.Results {
		if s.State == StateDrift || s.State == StateChanged {
			out = append(out, s)
		}
	}
	return out
}

// Err joins the errors of the failed settings (nil when none failed;
// unsupported settings are not errors).
func (r BucketReport) Err() error {
	var errs []error
	for _, s := range r.Results {
		if s.State == StateFailed {
			errs = append(errs, fmt.Errorf("%s: %w", s.Setting, s.Err))
		}
	}
	return errors.Join(errs...)
}

// PrepareBucket checks (PrepareCheck) or applies (PrepareApply) the bucket
// settings for a registry using c: the bucket exists; ownership
// BucketOwnerEnforced; all four public access blocks; default encryption
// (SSE-KMS with keyid and bucketkey, else AES256); versioning enabled;
// the lifecycle rules of o; the policy denying requests without TLS (when
// o.RequireTLS) and uploads asking for another encryption than the
// default. Settings are compared semantically (policy JSON normalized,
// rules by content; statements and rules not made by imagegate are kept),
// so a second apply changes nothing. Every setting is attempted even when
// one fails; the returned error is only for a setup failure (client).
func PrepareBucket(ctx context.Context, c Config, o BucketOptions, mode PrepareMode) (BucketReport, error) {
	if err := c.Validate(); err != nil {
		return BucketReport{}, err
	}
	if err := o.Validate(); err != nil {
		return BucketReport{}, err
	}
	d, err := newDriver(ctx, c)
	if err != nil {
		return BucketReport{}, err
	}
	b := &bucketPrep{d: d, o: o, bucket: c.Bucket}
	return b.run(ctx, mode), nil
}

// bucketPrep runs PrepareBucket on one bucket.
type bucketPrep struct {
	d      *driver
	o      BucketOptions
	bucket string
	// created is set when this run created the bucket.
	created bool
}

// bucketSetting reads, compares and applies one setting.
type bucketSetting struct {
	name string
	// want describes the desired value, as read does.
	want string
	// read returns the current and desired descriptions; equal means in sync.
	read func(ctx context.Context) (current, desired string, err error)
	// apply sets the desired value.
	apply func(ctx context.Context) error
	// note is shown with the result.
	note string
}

func (b *bucketPrep) run(ctx context.Context, mode PrepareMode) BucketReport {
	r := BucketReport{Bucket: b.bucket}
	exists, err := b.exists(ctx)
	switch {
	case err != nil:
		r.Results = append(r.Results, SettingResult{Setting: "bucket", State: StateFailed, Err: err})
		return r
	case exists:
		r.Results = append(r.Results, SettingResult{Setting: "bucket", State: StateInSync})
	case mode == PrepareCheck:
		// Nothing to read: every setting would be applied to the new bucket.
		r.Results = append(r.Results, SettingResult{Setting: "bucket", State: StateDrift, Current: "missing", Desired: "created"})
		for _, s := range b.settings() {
			r.Results = append(r.Results, SettingResult{Setting: s.name, State: StateDrift, Current: "none (no bucket)", Desired: s.want, Note: s.note})
		}
		return r
	default:
		if err := b.create(ctx); err != nil {
			r.Results = append(r.Results, SettingResult{Setting: "bucket", State: StateFailed, Err: err})
			return r
		}
		b.created = true
		r.Results = append(r.Results, SettingResult{Setting: "bucket", State: StateChanged, Current: "missing", Desired: "created"})
	}
	for _, s := range b.settings() {
		r.Results = append(r.Results, b.one(ctx, s, mode))
	}
	return r
}

// one checks and (in apply mode) applies s, then reads it back.
func (b *bucketPrep) one(ctx context.Context, s bucketSetting, mode PrepareMode) SettingResult {
	res := SettingResult{Setting: s.name, Note: s.note}
	fail := func(err error) SettingResult {
		res.State, res.Err = StateFailed, err
		if isNotImplemented(err) {
			res.State = StateUnsupported
		}
		return res
	}
	cur, want, err := s.read(ctx)
	for tries := 1; err != nil && b.created && hasCode(err, "NoSuchBucket") && tries < 20; tries++ {
		// A bucket just created may not be visible to every call yet
		// (SeaweedFS caches bucket configuration).
		select {
		case <-ctx.Done():
			return fail(err)
		case <-time.After(250 * time.Millisecond):
		}
		cur, want, err = s.read(ctx)
	}
	if err != nil {
		return fail(err)
	}
	res.Current, res.Desired = cur, want
	if cur == want {
		res.State = StateInSync
		return res
	}
	if mode == PrepareCheck {
		res.State = StateDrift
		return res
	}
	if err := s.apply(ctx); err != nil {
		return fail(err)
	}
	after, _, err := s.read(ctx)
	if err != nil {
		return fail(fmt.Errorf("reading back: %w", err))
	}
	if after != want {
		return fail(fmt.Errorf("the store accepted the setting but reads back %s", after))
	}
	res.State = StateChanged
	return res
}

// settings lists the settings in the order they are applied: the policy
// last, as it may deny requests the others need.
func (b *bucketPrep) settings() []bucketSetting {
	return []bucketSetting{
		b.ownershipSetting(),
		b.publicAccessBlockSetting(),
		b.encryptionSetting(),
		b.versioningSetting(),
		b.lifecycleSetting(),
		b.policySetting(),
	}
}
