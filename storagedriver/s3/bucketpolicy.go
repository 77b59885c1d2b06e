package s3

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// policySidPrefix starts the Sid of every policy statement imagegate
// manages; statements with other Sids are kept as they are.
const policySidPrefix = "Imagegate"

// policyStatements returns the desired imagegate statements:
//   - ImagegateDenyInsecureTransport (when o.RequireTLS): every request
//     without TLS is denied;
//   - ImagegateDenyOtherEncryption: an upload asking for another
//     server-side encryption than the bucket's default is denied. Uploads
//     without the header get the default encryption; the header is not
//     required because UploadPart (also s3:PutObject) never carries it;
//   - ImagegateDenyOtherKMSKey (SSE-KMS with a key ARN as keyid): an
//     upload naming another KMS key is denied (S3 compares ARNs, so
//     aliases and bare ids cannot be enforced this way).
func (b *bucketPrep) policyStatements() []map[string]any {
	arn := fmt.Sprintf("arn:%s:s3:::%s", partition(b.d.cfg.Region), b.bucket)
	deny := func(sid string, action, resource any, cond map[string]any) map[string]any {
		return map[string]any{"Sid": policySidPrefix + sid, "Effect": "Deny", "Principal": "*",
			"Action": action, "Resource": resource, "Condition": cond}
	}
	var st []map[string]any
	if b.o.RequireTLS {
		st = append(st, deny("DenyInsecureTransport", "s3:*", []any{arn, arn + "/*"},
			map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}))
	}
	alg := string(b.defaultEncryption().ApplyServerSideEncryptionByDefault.SSEAlgorithm)
	// "Present and different" is spelled StringNotEquals AND Null=false
	// rather than StringNotEqualsIfExists, which some stores (SeaweedFS)
	// refuse.
	presentAndNot := func(key, value string) map[string]any {
		return map[string]any{"StringNotEquals": map[string]any{key: value}, "Null": map[string]any{key: "false"}}
	}
	st = append(st, deny("DenyOtherEncryption", "s3:PutObject", arn+"/*",
		presentAndNot("s3:x-amz-server-side-encryption", alg)))
	if k := b.d.cfg.KeyID; strings.HasPrefix(k, "arn:") {
		st = append(st, deny("DenyOtherKMSKey", "s3:PutObject", arn+"/*",
			presentAndNot("s3:x-amz-server-side-encryption-aws-kms-key-id", k)))
	}
	return st
}

// partition returns the ARN partition of region.
func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// policyDoc is a bucket policy with its statements kept as generic JSON.
type policyDoc struct {
	Version   string           `json:"Version"`
	ID        string           `json:"Id,omitempty"`
	Statement []map[string]any `json:"Statement"`
}

// parsePolicy reads a policy document ("" is an empty one). A single
// statement object is accepted as a list of one.
func parsePolicy(s string) (policyDoc, error) {
	if strings.TrimSpace(s) == "" {
		return policyDoc{Version: "2012-10-17"}, nil
	}
	var raw struct {
		Version   string          `json:"Version"`
		ID        string          `json:"Id"`
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return policyDoc{}, fmt.Errorf("parse bucket policy: %w", err)
	}
	d := policyDoc{Version: raw.Version, ID: raw.ID}
	if len(raw.Statement) > 0 && raw.Statement[0] == '{' {
		var one map[string]any
		if err := json.Unmarshal(raw.Statement, &one); err != nil {
			return policyDoc{}, fmt.Errorf("parse bucket policy statement: %w", err)
		}
		d.Statement = []map[string]any{one}
	} else if len(raw.Statement) > 0 {
		if err := json.Unmarshal(raw.Statement, &d.Statement); err != nil {
			return policyDoc{}, fmt.Errorf("parse bucket policy statements: %w", err)
		}
	}
	return d, nil
}

// describeStatements returns the imagegate statements among st, normalized
// (see normalizeStatement) and sorted by Sid, as JSON.
func describeStatements(st []map[string]any) string {
	var ours []any
	for _, s := range st {
		if sid, _ := s["Sid"].(string); strings.HasPrefix(sid, policySidPrefix) {
			ours = append(ours, normalizeStatement(s))
		}
	}
	if len(ours) == 0 {
		return "none"
	}
	slices.SortFunc(ours, func(a, b any) int {
		return strings.Compare(a.(map[string]any)["Sid"].(string), b.(map[string]any)["Sid"].(string))
	})
	out, _ := json.Marshal(ours) // maps marshal with sorted keys
	return string(out)
}

// normalizeStatement maps equivalent spellings of a statement to one
// value: every value but Sid and Effect becomes a sorted list of strings
// ("s3:*" and ["s3:*"], false and "false" compare equal), and Principal
// "*" becomes {"AWS": ["*"]}.
func normalizeStatement(s map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range s {
		switch k {
		case "Sid", "Effect":
			out[k] = fmt.Sprint(v)
		case "Principal", "NotPrincipal":
			if str, ok := v.(string); ok && str == "*" {
				v = map[string]any{"AWS": "*"}
			}
			out[k] = normalizeValue(v)
		default:
			out[k] = normalizeValue(v)
		}
	}
	return out
}

func normalizeValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = normalizeValue(e)
		}
		return m
	case []any:
		l := make([]string, 0, len(t))
		for _, e := range t {
			l = append(l, fmt.Sprint(e))
		}
		slices.Sort(l)
		return l
	case nil:
		return []string{}
	default:
		return []string{fmt.Sprint(t)}
	}
}

func (b *bucketPrep) policySetting() bucketSetting {
	want := b.policyStatements()
	// The statements pass through JSON once so that they compare like
	// the ones read back.
	wantJSON, _ := json.Marshal(want)
	_ = json.Unmarshal(wantJSON, &want)
	current := func(ctx context.Context) (policyDoc, error) {
		out, err := b.d.client.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(b.bucket)})
		switch {
		case absent(err):
			return parsePolicy("")
		case err != nil:
			return policyDoc{}, opError("GetBucketPolicy", err)
		}
		return parsePolicy(aws.ToString(out.Policy))
	}
	note := ""
	if !b.o.RequireTLS {
		note = "no statement denying requests without TLS: the endpoint is plain http, which it would lock out"
	}
	return bucketSetting{
		name: "policy",
		want: describeStatements(want),
		note: note,
		read: func(ctx context.Context) (string, string, error) {
			doc, err := current(ctx)
			return describeStatements(doc.Statement), describeStatements(want), err
		},
		apply: func(ctx context.Context) error {
			doc, err := current(ctx)
			if err != nil {
				return err
			}
			// Keep the statements imagegate does not manage, in order.
			doc.Statement = slices.DeleteFunc(doc.Statement, func(s map[string]any) bool {
				sid, _ := s["Sid"].(string)
				return strings.HasPrefix(sid, policySidPrefix)
			})
			doc.Statement = append(doc.Statement, want...)
			if doc.Version == "" {
				doc.Version = "2012-10-17"
			}
			body, err := json.Marshal(doc)
			if err != nil {
				return fmt.Errorf("encode bucket policy: %w", err)
			}
			_, err = b.d.client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(b.bucket), Policy: aws.String(string(body))})
			return opError("PutBucketPolicy", err)
		},
	}
}
