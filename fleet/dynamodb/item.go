package dynamodb

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/imagegate/imagegate/fleet"
)

// The item layout (docs/metadata-dynamodb.md, "Fleet items"). Fleet items
// carry none of the record indexes' key attributes (id, gsi_*), so no
// record index holds them.
const (
	attrPK      = "pk"         // S: pkPrefix + space
	attrSK      = "sk"         // S: the key
	attrValue   = "value"      // B: the value
	attrVersion = "version"    // N: random, nonzero
	attrExpires = "expires_ms" // N: Unix milliseconds, the exact expiry; absent without TTL
	// attrTTL is the table's TTL attribute (the records' too): Unix
	// seconds, attrExpires rounded up, so DynamoDB never deletes a live item.
	attrTTL = "expires_at"

	pkPrefix = "fleet#"
)

type item = map[string]types.AttributeValue

// key is the primary key of key in space.
func key(space, k string) item {
	return item{attrPK: str(pkPrefix + space), attrSK: str(k)}
}

// encode is the item of a Put at now.
func encode(space, k string, value []byte, version int64, expires time.Time) item {
	it := key(space, k)
	if value == nil {
		value = []byte{}
	}
	it[attrValue] = &types.AttributeValueMemberB{Value: value}
	it[attrVersion] = num(version)
	if !expires.IsZero() {
		ms := expiresMillis(expires)
		it[attrExpires] = num(ms)
		it[attrTTL] = num((ms + 999) / 1000)
	}
	return it
}

// expiresMillis is t in Unix milliseconds, rounded up: an item lives at
// least its TTL.
func expiresMillis(t time.Time) int64 {
	ms := t.UnixMilli()
	if time.UnixMilli(ms).Before(t) {
		ms++
	}
	return ms
}

// decode is the fleet.Item of it, and whether it is live at now.
func decode(it item, now time.Time) (fleet.Item, bool, error) {
	sk, _ := it[attrSK].(*types.AttributeValueMemberS)
	value, _ := it[attrValue].(*types.AttributeValueMemberB)
	if sk == nil || value == nil {
		return fleet.Item{}, false, fmt.Errorf("item without %s or %s", attrSK, attrValue)
	}
	version, err := getN(it, attrVersion)
	if err != nil {
		return fleet.Item{}, false, err
	}
	out := fleet.Item{Key: sk.Value, Value: value.Value, Version: version}
	if _, ok := it[attrExpires]; ok {
		ms, err := getN(it, attrExpires)
		if err != nil {
			return fleet.Item{}, false, err
		}
		out.Expires = time.UnixMilli(ms)
		if now.UnixMilli() >= ms {
			return out, false, nil
		}
	}
	return out, true, nil
}

// newVersion returns a random version, nonzero and other than prev: an
// item expired and written anew never repeats the version of the one it
// replaces, so a holder of the old version cannot write over the new.
func newVersion(prev int64) int64 {
	for {
		if v := rand.Int64(); v != 0 && v != prev {
			return v
		}
	}
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func getN(it item, name string) (int64, error) {
	n, ok := it[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("item without number %s", name)
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("item attribute %s: %w", name, err)
	}
	return v, nil
}
