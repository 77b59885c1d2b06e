package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/imagegate/imagegate/internal/testutil/s3test"
)

// bucketTestConfig returns a driver Config for bucket on endpoint with
// SSE-KMS and a bucket key.
func bucketTestConfig(t *testing.T, endpoint, bucket string) Config {
	t.Helper()
	c, err := FromParameters(testParams(endpoint, bucket, map[string]any{
		"encrypt": true, "keyid": testKMSKey, "bucketkey": true, "rootdirectory": "/reg",
	}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// unusedBucket returns a name no bucket has yet, deleted (when created)
// when the test ends.
func unusedBucket(t *testing.T, endpoint string) string {
	t.Helper()
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := "ig-init-" + hex.EncodeToString(suffix)
	t.Cleanup(func() {
		c := adminClient(endpoint)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = c.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String(name)})
		emptyAndDeleteVersionedBucket(t, c, name)
	})
	return name
}

// emptyAndDeleteVersionedBucket removes every version and delete marker,
// then the bucket.
func emptyAndDeleteVersionedBucket(t *testing.T, c *s3.Client, bucket string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pages := s3.NewListObjectVersionsPaginator(c, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			break
		}
		for _, v := range page.Versions {
			_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: v.Key, VersionId: v.VersionId})
		}
		for _, m := range page.DeleteMarkers {
			_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: m.Key, VersionId: m.VersionId})
		}
	}
	s3test.Delete(t, c, bucket)
}

func prepare(t *testing.T, c Config, o BucketOptions, mode PrepareMode) BucketReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := PrepareBucket(ctx, c, o, mode)
	if err != nil {
		t.Fatalf("PrepareBucket: %v", err)
	}
	for _, s := range r.Results {
		t.Logf("%-20s %-11s %s %v", s.Setting, s.State, s.Desired, s.Err)
	}
	return r
}

// states maps setting names to their state.
func states(r BucketReport) map[string]SettingState {
	m := map[string]SettingState{}
	for _, s := range r.Results {
		m[s.Setting] = s.State
	}
	return m
}

// SeaweedFS implements every setting but ownership controls; the tests
// accept "unsupported" for that one only, and check what it answered.
var unsupportedBySeaweedFS = map[string]bool{"ownership": true}

func requireStates(t *testing.T, r BucketReport, want SettingState) {
	t.Helper()
	for _, s := range r.Results {
		if s.State == StateUnsupported && unsupportedBySeaweedFS[s.Setting] {
			continue
		}
		if s.State != want {
			t.Errorf("%s: state %s (%v), want %s; current %s, desired %s", s.Setting, s.State, s.Err, want, s.Current, s.Desired)
		}
	}
}

func TestPrepareBucketCreatesAppliesAndIsIdempotent(t *testing.T) {
	endpoint := testEndpoint(t)
	bucket := unusedBucket(t, endpoint)
	c := bucketTestConfig(t, endpoint, bucket)
	o := DefaultBucketOptions(c)
	if o.RequireTLS {
		t.Fatal("RequireTLS must default to false for a plain-http endpoint")
	}

	dry := prepare(t, c, o, PrepareCheck)
	requireStates(t, dry, StateDrift)
	if dry.Results[0].Setting != "bucket" || dry.Results[0].Current != "missing" {
		t.Errorf("dry run on a missing bucket: %+v", dry.Results[0])
	}
	if exists, _ := (&bucketPrep{d: mustDriver(t, c), bucket: bucket}).exists(context.Background()); exists {
		t.Fatal("the dry run created the bucket")
	}

	first := prepare(t, c, o, PrepareApply)
	if states(first)["ownership"] == StateInSync {
		// Stores that take ObjectOwnership at CreateBucket (AWS, SeaweedFS).
		first.Results = slices.DeleteFunc(first.Results, func(s SettingResult) bool { return s.Setting == "ownership" })
	}
	requireStates(t, first, StateChanged)
	if err := first.Err(); err != nil {
		t.Fatalf("apply: %v", err)
	}
	readBack(t, endpoint, bucket)

	second := prepare(t, c, o, PrepareApply)
	requireStates(t, second, StateInSync)
	if ch := second.Changes(); len(ch) != 0 {
		t.Errorf("second run changed %+v", ch)
	}
	requireStates(t, prepare(t, c, o, PrepareCheck), StateInSync)

	// The driver still writes (multipart included) through the policy, and
	// the policy refuses an upload asking for another encryption.
	d := newTestDriver(t, testParams(endpoint, bucket, map[string]any{
		"encrypt": true, "keyid": testKMSKey, "bucketkey": true, "rootdirectory": "/reg"}))
	ctx := context.Background()
	w, err := d.Writer(ctx, "/blob", false)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(2*MinChunkSize + 17)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatalf("multipart upload through the policy: %v", err)
	}
	got, err := d.GetContent(ctx, "/blob")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back: %v", err)
	}
	_, err = adminClient(endpoint).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("reg/aes"),
		Body: strings.NewReader("x"), ServerSideEncryption: types.ServerSideEncryptionAes256})
	if !hasCode(err, "AccessDenied") {
		t.Errorf("PutObject with AES256 on an SSE-KMS bucket: %v, want AccessDenied from the policy", err)
	}
}

func mustDriver(t *testing.T, c Config) *driver {
	t.Helper()
	d, err := newDriver(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// readBack checks every setting with the plain SDK client.
func readBack(t *testing.T, endpoint, bucket string) {
	t.Helper()
	ctx := context.Background()
	c := adminClient(endpoint)
	b := aws.String(bucket)

	enc, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: b})
	if err != nil {
		t.Fatalf("GetBucketEncryption: %v", err)
	}
	r := enc.ServerSideEncryptionConfiguration.Rules[0]
	if d := r.ApplyServerSideEncryptionByDefault; d.SSEAlgorithm != types.ServerSideEncryptionAwsKms ||
		aws.ToString(d.KMSMasterKeyID) != testKMSKey || !aws.ToBool(r.BucketKeyEnabled) {
		t.Errorf("encryption: %s key %s bucket key %v", d.SSEAlgorithm, aws.ToString(d.KMSMasterKeyID), aws.ToBool(r.BucketKeyEnabled))
	}

	pab, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b})
	if err != nil {
		t.Fatalf("GetPublicAccessBlock: %v", err)
	}
	p := pab.PublicAccessBlockConfiguration
	if !aws.ToBool(p.BlockPublicAcls) || !aws.ToBool(p.IgnorePublicAcls) || !aws.ToBool(p.BlockPublicPolicy) || !aws.ToBool(p.RestrictPublicBuckets) {
		t.Errorf("public access block: %+v", p)
	}

	v, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: b})
	if err != nil || v.Status != types.BucketVersioningStatusEnabled {
		t.Errorf("versioning: %v %v", v.Status, err)
	}

	lc, err := c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: b})
	if err != nil {
		t.Fatalf("GetBucketLifecycleConfiguration: %v", err)
	}
	want := map[string]bool{"imagegate-abort-incomplete-multipart": false, "imagegate-expire-noncurrent": false, "imagegate-expire-leftovers": false, "imagegate-expire-staging": false}
	for _, r := range lc.Rules {
		id := aws.ToString(r.ID)
		want[id] = true
		switch id {
		case "imagegate-abort-incomplete-multipart":
			if r.AbortIncompleteMultipartUpload == nil || aws.ToInt32(r.AbortIncompleteMultipartUpload.DaysAfterInitiation) != DefaultAbortIncompleteUploadDays {
				t.Errorf("rule %s: %+v", id, r.AbortIncompleteMultipartUpload)
			}
		case "imagegate-expire-noncurrent":
			if r.NoncurrentVersionExpiration == nil || aws.ToInt32(r.NoncurrentVersionExpiration.NoncurrentDays) != DefaultNoncurrentVersionDays {
				t.Errorf("rule %s: %+v", id, r.NoncurrentVersionExpiration)
			}
			if r.Expiration == nil || !aws.ToBool(r.Expiration.ExpiredObjectDeleteMarker) {
				t.Errorf("rule %s: expiration %+v, want lone delete markers removed", id, r.Expiration)
			}
		case "imagegate-expire-leftovers":
			if r.Expiration == nil || aws.ToInt32(r.Expiration.Days) != DefaultLeftoverDays || aws.ToString(r.Filter.Prefix) != "reg/_imagegate/" {
				t.Errorf("rule %s: %+v %+v", id, r.Expiration, r.Filter)
			}
		case "imagegate-expire-staging":
			if r.Expiration == nil || aws.ToInt32(r.Expiration.Days) != DefaultLeftoverDays || aws.ToString(r.Filter.Prefix) != "reg/imagegate-staging/" {
				t.Errorf("rule %s: %+v %+v", id, r.Expiration, r.Filter)
			}
		}
	}
	for id, found := range want {
		if !found {
			t.Errorf("lifecycle rule %s missing", id)
		}
	}

	pol, err := c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: b})
	if err != nil {
		t.Fatalf("GetBucketPolicy: %v", err)
	}
	doc, err := parsePolicy(aws.ToString(pol.Policy))
	if err != nil {
		t.Fatal(err)
	}
	var sids []string
	for _, s := range doc.Statement {
		sids = append(sids, s["Sid"].(string))
	}
	if strings.Join(sids, ",") != "ImagegateDenyOtherEncryption" {
		t.Errorf("policy statements %v, want ImagegateDenyOtherEncryption only (http endpoint: no TLS statement)", sids)
	}

	own, err := c.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: b})
	switch {
	case isNotImplemented(err):
		t.Logf("ownership controls: the store does not implement them: %v", err)
	case err != nil:
		t.Errorf("GetBucketOwnershipControls: %v", err)
	case own.OwnershipControls.Rules[0].ObjectOwnership != types.ObjectOwnershipBucketOwnerEnforced:
		t.Errorf("ownership: %v", own.OwnershipControls.Rules[0].ObjectOwnership)
	}
}

func TestPrepareBucketReportsAndRepairsDrift(t *testing.T) {
	endpoint := testEndpoint(t)
	bucket := unusedBucket(t, endpoint)
	c := bucketTestConfig(t, endpoint, bucket)
	o := DefaultBucketOptions(c)
	if err := prepare(t, c, o, PrepareApply).Err(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	admin := adminClient(endpoint)
	b := aws.String(bucket)
	// Someone suspends versioning, lifts a public access block, adds
	// their own statement and rule, and weakens ours.
	mustDo(t, "PutBucketVersioning", func() error {
		_, err := admin.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b,
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
		return err
	})
	mustDo(t, "PutPublicAccessBlock", func() error {
		_, err := admin.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: b, PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{
			BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(false), RestrictPublicBuckets: aws.Bool(true)}})
		return err
	})
	foreign := `{"Version":"2012-10-17","Statement":[
		{"Sid":"OpsDenyDelete","Effect":"Deny","Principal":{"AWS":["*"]},"Action":["s3:DeleteBucket"],"Resource":["arn:aws:s3:::` + bucket + `"]},
		{"Sid":"ImagegateDenyOtherEncryption","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::` + bucket + `/*",
		 "Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"AES256"},"Null":{"s3:x-amz-server-side-encryption":"false"}}}]}`
	mustDo(t, "PutBucketPolicy", func() error {
		_, err := admin.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(foreign)})
		return err
	})
	lc, err := admin.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: b})
	if err != nil {
		t.Fatal(err)
	}
	rules := append(lc.Rules, types.LifecycleRule{ID: aws.String("ops-expire-tmp"), Status: types.ExpirationStatusEnabled,
		Filter: &types.LifecycleRuleFilter{Prefix: aws.String("tmp/")}, Expiration: &types.LifecycleExpiration{Days: aws.Int32(3)}})
	for i := range rules {
		if aws.ToString(rules[i].ID) == "imagegate-expire-noncurrent" {
			rules[i].NoncurrentVersionExpiration.NoncurrentDays = aws.Int32(365)
		}
	}
	mustDo(t, "PutBucketLifecycleConfiguration", func() error {
		_, err := admin.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: b,
			LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: rules}})
		return err
	})

	drift := states(prepare(t, c, o, PrepareCheck))
	for setting, want := range map[string]SettingState{"bucket": StateInSync, "encryption": StateInSync,
		"versioning": StateDrift, "public-access-block": StateDrift, "policy": StateDrift, "lifecycle": StateDrift} {
		if drift[setting] != want {
			t.Errorf("check: %s is %s, want %s", setting, drift[setting], want)
		}
	}
	fixed := states(prepare(t, c, o, PrepareApply))
	for _, setting := range []string{"versioning", "public-access-block", "policy", "lifecycle"} {
		if fixed[setting] != StateChanged {
			t.Errorf("apply: %s is %s, want changed", setting, fixed[setting])
		}
	}
	requireStates(t, prepare(t, c, o, PrepareCheck), StateInSync)

	// The foreign statement and rule are still there.
	pol, err := admin.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: b})
	if err != nil || !strings.Contains(aws.ToString(pol.Policy), "OpsDenyDelete") {
		t.Errorf("foreign statement lost: %v %s", err, aws.ToString(pol.Policy))
	}
	lc, err = admin.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: b})
	if err != nil || !strings.Contains(describeAllRuleIDs(lc.Rules), "ops-expire-tmp") {
		t.Errorf("foreign lifecycle rule lost: %v %s", err, describeAllRuleIDs(lc.Rules))
	}
}

func describeAllRuleIDs(rules []types.LifecycleRule) string {
	var ids []string
	for _, r := range rules {
		ids = append(ids, aws.ToString(r.ID))
	}
	return strings.Join(ids, ",")
}

func mustDo(t *testing.T, what string, f func() error) {
	t.Helper()
	if err := f(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestPrepareBucketRequireTLS applies the TLS statement over plain http to
// a throwaway bucket: the store enforces it, so the bucket is locked
// against this client from then on (it stays behind in the test server),
// and the next check names the permission each refused request needed.
func TestPrepareBucketRequireTLS(t *testing.T) {
	endpoint := testEndpoint(t)
	bucket := newTestBucketName()
	c := bucketTestConfig(t, endpoint, bucket)
	o := DefaultBucketOptions(c)
	o.RequireTLS = true
	applied := prepare(t, c, o, PrepareApply)
	t.Logf("bucket %s is now closed to plain http and stays in the test server", bucket)
	// Applied last, the policy takes effect at once: its own read-back
	// over http is refused.
	for _, s := range applied.Results {
		switch {
		case s.Setting == "policy":
			if s.State != StateFailed || !strings.Contains(s.Err.Error(), "reading back: GetBucketPolicy: permission denied: needs s3:GetBucketPolicy") {
				t.Errorf("policy: %s %v, want its read-back denied", s.State, s.Err)
			}
		case s.State == StateFailed:
			t.Errorf("%s: %v", s.Setting, s.Err)
		}
	}
	_, err := adminClient(endpoint).GetBucketPolicy(context.Background(), &s3.GetBucketPolicyInput{Bucket: aws.String(bucket)})
	if !hasCode(err, "AccessDenied") {
		t.Fatalf("GetBucketPolicy over http after the TLS statement: %v, want AccessDenied", err)
	}
	r := prepare(t, c, o, PrepareCheck)
	err = r.Err()
	if !errors.Is(err, ErrPermission) || !strings.Contains(err.Error(), "HeadBucket: permission denied: needs s3:ListBucket") {
		t.Errorf("check over http: %v, want HeadBucket's permission error naming s3:ListBucket", err)
	}
}

func newTestBucketName() string {
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	return "ig-tls-locked-" + hex.EncodeToString(suffix)
}

func TestPrepareBucketTransitionUnsupportedIsReported(t *testing.T) {
	endpoint := testEndpoint(t)
	bucket := unusedBucket(t, endpoint)
	c := bucketTestConfig(t, endpoint, bucket)
	o := DefaultBucketOptions(c)
	o.TransitionDays, o.TransitionClass = 30, "STANDARD_IA"
	r := prepare(t, c, o, PrepareApply)
	for _, s := range r.Results {
		if s.Setting != "lifecycle" {
			continue
		}
		switch s.State {
		case StateChanged:
			t.Log("the store accepted a transition rule")
		case StateUnsupported:
			if !strings.Contains(s.Err.Error(), "PutBucketLifecycleConfiguration") || !strings.Contains(s.Err.Error(), "Transition") {
				t.Errorf("unsupported transition error does not say what: %v", s.Err)
			}
		default:
			t.Errorf("lifecycle with a transition: %s %v", s.State, s.Err)
		}
	}
}

func TestOpErrorNamesPermission(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied"}
	err := opError("PutBucketPolicy", denied)
	if !errors.Is(err, ErrPermission) || !strings.Contains(err.Error(), "needs s3:PutBucketPolicy") {
		t.Errorf("opError: %v", err)
	}
	for op, perm := range bucketPermissions {
		if !strings.HasPrefix(perm, "s3:") || op == "" {
			t.Errorf("%s → %s", op, perm)
		}
	}
	if err := opError("PutBucketVersioning", &smithy.GenericAPIError{Code: "NotImplemented"}); !isNotImplemented(err) {
		t.Errorf("NotImplemented lost: %v", err)
	}
}

func TestPolicyNormalization(t *testing.T) {
	a, err := parsePolicy(`{"Version":"2012-10-17","Statement":{"Sid":"ImagegateX","Effect":"Deny","Principal":"*",
		"Action":"s3:*","Resource":["arn:aws:s3:::b/*","arn:aws:s3:::b"],"Condition":{"Bool":{"aws:SecureTransport":false}}}}`)
	if err != nil {
		t.Fatal(err)
	}
	b, err := parsePolicy(`{"Version":"2012-10-17","Statement":[{"Sid":"Other","Effect":"Allow"},{"Effect":"Deny","Sid":"ImagegateX",
		"Principal":{"AWS":"*"},"Action":["s3:*"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":["false"]}}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if da, db := describeStatements(a.Statement), describeStatements(b.Statement); da != db {
		t.Errorf("equivalent statements differ:\n%s\n%s", da, db)
	}
	c, _ := parsePolicy(`{"Statement":[{"Sid":"ImagegateX","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b"}]}`)
	if describeStatements(a.Statement) == describeStatements(c.Statement) {
		t.Error("different statements compare equal")
	}
}

// TestBucketInitPolicyListsEveryPermission keeps
// docs/iam/bucket-init-policy.json equal to the permissions PrepareBucket
// names: nothing missing, nothing more.
func TestBucketInitPolicyListsEveryPermission(t *testing.T) {
	data, err := os.ReadFile("../../docs/iam/bucket-init-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Statement []struct {
			Action []string
		}
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for _, s := range doc.Statement {
		got = append(got, s.Action...)
	}
	for _, p := range bucketPermissions {
		if !slices.Contains(want, p) {
			want = append(want, p)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("bucket-init-policy.json actions\n%v\nwant\n%v", got, want)
	}
}
