package dynamodb

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/imagegate/imagegate/metadata"
)

// item is one DynamoDB item.
type item = map[string]types.AttributeValue

// encoded is a record in its stored form: the main item and, when the
// body does not fit in it, the chunk items.
type encoded struct {
	id, sum string
	main    item
	chunks  []item
}

// encode lays r out as items (schema.go). The body is r's JSON, gzipped
// when large; sum is the JSON's SHA-256, which a retried Put compares.
// The status, reason and commit time are also attributes of their own, so
// that Finish updates them without rewriting the body.
func (s *Store) encode(r *metadata.Record) (*encoded, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encoding record %s: %w", r.ID, err)
	}
	h := sha256.Sum256(data)
	e := &encoded{id: r.ID, sum: hex.EncodeToString(h[:])}
	body, encoding, err := compress(data)
	if err != nil {
		return nil, fmt.Errorf("compressing record %s: %w", r.ID, err)
	}

	e.main = item{
		attrPK:       str(pk(r.ID)),
		attrSK:       str(skMain),
		attrID:       str(r.ID),
		attrAll:      str(allPartition),
		attrRepo:     str(r.Repository),
		attrLayout:   num(layoutVersion),
		attrKind:     str(string(r.Kind)),
		attrStatus:   str(string(r.Status)),
		attrSum:      str(e.sum),
		attrEncoding: str(encoding),
		attrBodySize: num(strconv.Itoa(len(body))),
	}
	if r.User.Subject != "" {
		e.main[attrUser] = str(r.User.Subject)
	}
	if r.Digest != "" {
		e.main[attrDigest] = str(r.Digest.String())
	}
	if r.Status == metadata.StatusPending {
		e.main[attrPending] = str(pendingPartition)
	}
	if r.Reason != "" {
		e.main[attrReason] = str(r.Reason)
	}
	if r.CommittedAt != nil {
		e.main[attrCommitted] = str(r.CommittedAt.Format(time.RFC3339Nano))
	}
	expires := s.expiry(r)
	if expires != nil {
		e.main[attrExpires] = expires
	}

	room := maxItemBytes - itemMargin - itemSize(e.main)
	if room < 0 {
		return nil, fmt.Errorf("%w: record %s: its indexed fields alone exceed DynamoDB's item size", metadata.ErrInvalid, r.ID)
	}
	if len(attrBody)+len(body) <= room {
		e.main[attrBody] = &types.AttributeValueMemberB{Value: body}
		return e, nil
	}

	parts := split(body, s.chunkBytes)
	e.main[attrChunks] = num(strconv.Itoa(len(parts)))
	total := itemSize(e.main)
	for i, part := range parts {
		c := item{
			attrPK:   str(pk(r.ID)),
			attrSK:   str(chunkSK(i)),
			attrData: &types.AttributeValueMemberB{Value: part},
		}
		if expires != nil {
			c[attrExpires] = expires
		}
		e.chunks = append(e.chunks, c)
		total += itemSize(c)
	}
	if 1+len(parts) > maxTransactItems || total > maxTransactBytes-itemMargin {
		return nil, tooLarge(r.ID, len(body))
	}
	return e, nil
}

// expiry is the TTL attribute of r's items: received time (now when
// unset) plus retention; nil without retention.
func (s *Store) expiry(r *metadata.Record) types.AttributeValue {
	if s.retention <= 0 {
		return nil
	}
	at := r.ReceivedAt
	if at.IsZero() {
		at = s.now()
	}
	return num(strconv.FormatInt(at.Add(s.retention).Unix(), 10))
}

// expired reports whether main's TTL has passed: such a record is hidden
// from reads even before DynamoDB deletes its items (it may delete the
// chunks first).
func (s *Store) expired(main item) bool {
	v := getN(main, attrExpires)
	if v == "" {
		return false
	}
	at, err := strconv.ParseInt(v, 10, 64)
	return err == nil && at <= s.now().Unix()
}

// decode rebuilds a record from its main item and its chunk items (in
// sort key order), checking the layout, chunk count, size and checksum,
// then overlays the attributes Finish updates.
func decode(main item, chunks []item) (*metadata.Record, error) {
	id := getS(main, attrID)
	if v := getN(main, attrLayout); v != layoutVersion {
		return nil, fmt.Errorf("record %s: unknown item layout %q", id, v)
	}
	body, err := assemble(main, chunks)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", id, err)
	}
	data, err := decompress(body, getS(main, attrEncoding))
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", id, err)
	}
	if h := sha256.Sum256(data); hex.EncodeToString(h[:]) != getS(main, attrSum) {
		return nil, fmt.Errorf("record %s: body does not match its checksum", id)
	}
	var r metadata.Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("record %s: decoding: %w", id, err)
	}
	r.Status = metadata.Status(getS(main, attrStatus))
	r.Reason = getS(main, attrReason)
	r.CommittedAt = nil
	if v := getS(main, attrCommitted); v != "" {
		at, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return nil, fmt.Errorf("record %s: committed_at: %w", id, err)
		}
		r.CommittedAt = &at
	}
	return &r, nil
}

// assemble returns the stored body: inline, or the chunks concatenated.
func assemble(main item, chunks []item) ([]byte, error) {
	size, err := strconv.Atoi(getN(main, attrBodySize))
	if err != nil {
		return nil, fmt.Errorf("body_size: %w", err)
	}
	if b, ok := main[attrBody].(*types.AttributeValueMemberB); ok {
		if len(b.Value) != size {
			return nil, fmt.Errorf("body is %d bytes, want %d", len(b.Value), size)
		}
		return b.Value, nil
	}
	n, err := strconv.Atoi(getN(main, attrChunks))
	if err != nil {
		return nil, fmt.Errorf("chunks: %w", err)
	}
	if len(chunks) != n {
		return nil, fmt.Errorf("%d chunks stored, want %d", len(chunks), n)
	}
	body := bytes.NewBuffer(make([]byte, 0, size))
	for i, c := range chunks {
		if sk := getS(c, attrSK); sk != chunkSK(i) {
			return nil, fmt.Errorf("chunk %d has sort key %q", i, sk)
		}
		b, _ := c[attrData].(*types.AttributeValueMemberB)
		if b == nil {
			return nil, fmt.Errorf("chunk %d has no data", i)
		}
		body.Write(b.Value)
	}
	if body.Len() != size {
		return nil, fmt.Errorf("chunks hold %d bytes, want %d", body.Len(), size)
	}
	return body.Bytes(), nil
}

// itemSize is an upper bound of the size DynamoDB counts for it.
func itemSize(it item) int {
	n := 0
	for name, v := range it {
		n += len(name)
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			n += len(v.Value)
		case *types.AttributeValueMemberB:
			n += len(v.Value)
		case *types.AttributeValueMemberN:
			n += len(v.Value) + 1
		default:
			n += 64
		}
	}
	return n
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func num(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

// getS returns string attribute name of it, "" when absent.
func getS(it item, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// getN returns number attribute name of it as text, "" when absent.
func getN(it item, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberN); ok {
		return v.Value
	}
	return ""
}

// mainKey is the key of record id's main item.
func mainKey(id string) item {
	return item{attrPK: str(pk(id)), attrSK: str(skMain)}
}
