package dynamodb

import (
	"bytes"
	"context"
	"hash/crc32"
	"io"
	"strconv"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// The SDK's DynamoDB client checks every response body against its
// X-Amz-Crc32 header, but when the header is missing (error responses,
// DynamoDB Local) it checks against 0 and logs a spurious "failed to close
// HTTP response body" warning for each such response (aws-sdk-go-v2 issue
// 3545). crcBackfill, placed just inside that check, sets the missing
// header from the body itself: a response without a checksum stays
// unchecked, as intended, and responses with one are checked as before.

// sdkChecksumID is the ID of the SDK's response checksum middleware.
const sdkChecksumID = "DynamoDB:ResponseChecksumValidation"

// addCRCBackfill installs crcBackfill where the SDK checks checksums.
func addCRCBackfill(stack *middleware.Stack) error {
	if _, ok := stack.Deserialize.Get(sdkChecksumID); !ok {
		return nil // validation disabled: nothing to work around
	}
	return stack.Deserialize.Insert(crcBackfill{}, sdkChecksumID, middleware.After)
}

type crcBackfill struct{}

func (crcBackfill) ID() string { return "imagegate:BackfillCRC32" }

func (crcBackfill) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (
	middleware.DeserializeOutput, middleware.Metadata, error,
) {
	out, md, err := next.HandleDeserialize(ctx, in)
	if err != nil {
		return out, md, err
	}
	resp, ok := out.RawResponse.(*smithyhttp.Response)
	if !ok || resp.Body == nil || resp.Header.Get("X-Amz-Crc32") != "" {
		return out, md, nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return out, md, err
	}
	resp.Header.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return out, md, nil
}
