package s3

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// lifecycleRulePrefix starts the ID of every lifecycle rule imagegate
// manages; rules with other IDs are left alone.
const lifecycleRulePrefix = "imagegate-"

// probePrefix is where the driver's probe uploads go, below the root
// directory (see declareChecksums).
const probePrefix = "_imagegate/"

// stagingPrefix is where direct tarball uploads wait for their completion
// call, below the root directory (shim's directRoot); a staging object
// never completed is a leftover too.
const stagingPrefix = "imagegate-staging/"

// lifecycleRules returns the desired imagegate rules, scoped to the root
// directory.
func (b *bucketPrep) lifecycleRules() []types.LifecycleRule {
	root := b.d.dirKey("/")
	rule := func(id, prefix string) types.LifecycleRule {
		return types.LifecycleRule{
			ID:     aws.String(lifecycleRulePrefix + id),
			Status: types.ExpirationStatusEnabled,
			Filter: &types.LifecycleRuleFilter{Prefix: aws.String(prefix)},
		}
	}
	var rules []types.LifecycleRule
	if d := b.o.AbortIncompleteUploadDays; d > 0 {
		r := rule("abort-incomplete-multipart", root)
		r.AbortIncompleteMultipartUpload = &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(d)}
		rules = append(rules, r)
	}
	if d := b.o.NoncurrentVersionDays; d > 0 {
		// With versioning a delete leaves a delete marker; once the
		// versions behind it expired, the marker alone remains, hiding
		// nothing, listed by every ListObjectVersions: removed too.
		r := rule("expire-noncurrent", root)
		r.NoncurrentVersionExpiration = &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(d)}
		r.Expiration = &types.LifecycleExpiration{ExpiredObjectDeleteMarker: aws.Bool(true)}
		rules = append(rules, r)
	}
	if d := b.o.LeftoverDays; d > 0 {
		r := rule("expire-leftovers", root+probePrefix)
		r.Expiration = &types.LifecycleExpiration{Days: aws.Int32(d)}
		s := rule("expire-staging", root+stagingPrefix)
		s.Expiration = &types.LifecycleExpiration{Days: aws.Int32(d)}
		rules = append(rules, r, s)
	}
	if d := b.o.TransitionDays; d > 0 {
		r := rule("transition", root)
		r.Transitions = []types.Transition{{Days: aws.Int32(d), StorageClass: types.TransitionStorageClass(strings.ToUpper(b.o.TransitionClass))}}
		rules = append(rules, r)
	}
	return rules
}

// describeRules describes the imagegate rules among rules, sorted by ID,
// field by field (absent and zero fields omitted), so that equal rules
// describe equally whatever the store's encoding.
func describeRules(rules []types.LifecycleRule) string {
	var out []string
	for _, r := range rules {
		id := aws.ToString(r.ID)
		if !strings.HasPrefix(id, lifecycleRulePrefix) {
			continue
		}
		var prefix string
		if r.Filter != nil {
			prefix = aws.ToString(r.Filter.Prefix)
		} else {
			prefix = aws.ToString(r.Prefix) //nolint:staticcheck // older stores answer the deprecated field
		}
		f := []string{id, string(r.Status), "prefix=" + prefix}
		if a := r.AbortIncompleteMultipartUpload; a != nil {
			f = append(f, fmt.Sprintf("abort-incomplete-after=%dd", aws.ToInt32(a.DaysAfterInitiation)))
		}
		if n := r.NoncurrentVersionExpiration; n != nil {
			f = append(f, fmt.Sprintf("expire-noncurrent-after=%dd", aws.ToInt32(n.NoncurrentDays)))
		}
		if e := r.Expiration; e != nil && aws.ToInt32(e.Days) > 0 {
			f = append(f, fmt.Sprintf("expire-after=%dd", aws.ToInt32(e.Days)))
		}
		if e := r.Expiration; e != nil && aws.ToBool(e.ExpiredObjectDeleteMarker) {
			f = append(f, "expire-lone-delete-markers")
		}
		for _, t := range r.Transitions {
			f = append(f, fmt.Sprintf("transition-after=%dd:%s", aws.ToInt32(t.Days), t.StorageClass))
		}
		out = append(out, strings.Join(f, " "))
	}
	if len(out) == 0 {
		return "none"
	}
	slices.Sort(out)
	return strings.Join(out, "; ")
}

func (b *bucketPrep) lifecycleSetting() bucketSetting {
	want := b.lifecycleRules()
	current := func(ctx context.Context) ([]types.LifecycleRule, error) {
		out, err := b.d.client.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String(b.bucket)})
		switch {
		case absent(err):
			return nil, nil
		case err != nil:
			return nil, opError("GetBucketLifecycleConfiguration", err)
		}
		return out.Rules, nil
	}
	s := bucketSetting{
		name: "lifecycle",
		want: describeRules(want),
		read: func(ctx context.Context) (string, string, error) {
			rules, err := current(ctx)
			return describeRules(rules), describeRules(want), err
		},
		apply: func(ctx context.Context) error {
			rules, err := current(ctx)
			if err != nil {
				return err
			}
			// Keep the rules imagegate does not manage.
			keep := slices.DeleteFunc(rules, func(r types.LifecycleRule) bool {
				return strings.HasPrefix(aws.ToString(r.ID), lifecycleRulePrefix)
			})
			all := append(keep, want...)
			if len(all) == 0 {
				_, err := b.d.client.DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: aws.String(b.bucket)})
				return opError("PutBucketLifecycleConfiguration", err)
			}
			_, err = b.d.client.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{
				Bucket:                 aws.String(b.bucket),
				LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: all},
			})
			err = opError("PutBucketLifecycleConfiguration", err)
			if err != nil && b.o.TransitionDays > 0 && isNotImplemented(err) {
				err = fmt.Errorf("%w (stores such as SeaweedFS refuse rules with a Transition: set no transition for them)", err)
			}
			return err
		},
		note: "upload leftovers: incomplete multipart uploads are aborted by abort-incomplete-multipart; " +
			"the small files of abandoned uploads (repositories/*/_uploads/) cannot be matched by a lifecycle prefix " +
			"and are removed by storage.uploadpurging",
	}
	return s
}
