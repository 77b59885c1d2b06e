package dynamodb

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"

	"github.com/imagegate/imagegate/metadata"
)

// Size limits of DynamoDB and the margins this store keeps below them.
const (
	// maxItemBytes is DynamoDB's item size limit (names and values).
	maxItemBytes = 400 * 1024
	// itemMargin keeps computed item sizes safely below the limit.
	itemMargin = 4 * 1024
	// defaultChunkBytes is the data carried by one chunk item.
	defaultChunkBytes = 380 * 1024
	// maxTransactItems and maxTransactBytes are TransactWriteItems' limits:
	// a chunked record (main item + chunks) must fit in one transaction.
	maxTransactItems = 100
	maxTransactBytes = 4 * 1024 * 1024
	// gzipAbove: records whose JSON is larger are stored gzipped (write
	// capacity is billed per KB).
	gzipAbove = 4 * 1024
	// maxDecodedBytes bounds what a stored body may decompress to.
	maxDecodedBytes = 64 << 20
)

// compress returns the stored form of a record's JSON and its encoding:
// gzip above gzipAbove when that is smaller, else the JSON itself.
func compress(data []byte) ([]byte, string, error) {
	if len(data) <= gzipAbove {
		return data, encodingJSON, nil
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, "", err
	}
	if _, err := zw.Write(data); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	if buf.Len() >= len(data) {
		return data, encodingJSON, nil
	}
	return buf.Bytes(), encodingGzip, nil
}

// decompress undoes compress.
func decompress(body []byte, encoding string) ([]byte, error) {
	switch encoding {
	case encodingJSON:
		return body, nil
	case encodingGzip:
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(io.LimitReader(zr, maxDecodedBytes+1))
		if err != nil {
			return nil, err
		}
		if len(data) > maxDecodedBytes {
			return nil, fmt.Errorf("body decompresses to more than %d bytes", maxDecodedBytes)
		}
		return data, nil
	}
	return nil, fmt.Errorf("unknown body encoding %q", encoding)
}

// split cuts body into slices of at most size bytes (sharing body's memory).
func split(body []byte, size int) [][]byte {
	var parts [][]byte
	for len(body) > size {
		parts = append(parts, body[:size:size])
		body = body[size:]
	}
	return append(parts, body)
}

// chunkSK is the sort key of chunk i.
func chunkSK(i int) string { return fmt.Sprintf("%s%04d", skChunkPrefix, i) }

// tooLarge is the error for a record that no transaction can carry.
func tooLarge(id string, encoded int) error {
	return fmt.Errorf("%w: record %s is %d bytes encoded (after compression); DynamoDB transactions carry at most %d",
		metadata.ErrInvalid, id, encoded, maxTransactBytes)
}
