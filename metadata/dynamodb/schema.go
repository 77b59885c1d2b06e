package dynamodb

// The table layout; docs/metadata-dynamodb.md explains the choices.
//
// Every item of record ID lives in partition "rec#ID": the main item (sort
// key "rec") and, when the encoded record is too big for one item, its
// chunks (sort keys "chunk#0000", "chunk#0001", …), written in one
// transaction with the main item.
const (
	attrPK = "pk" // S: "rec#" + id
	attrSK = "sk" // S: skMain or chunk sort key

	// Index keys, on main items only (chunk items are in no index).
	attrID     = "id"             // S: record id, sort key of every index
	attrAll    = "gsi_all"        // S: allPartition, partition key of indexAll
	attrRepo   = "gsi_repository" // S: partition key of indexRepo, projected into indexDigest
	attrUser   = "gsi_user"       // S: partition key of indexUser; absent for anonymous
	attrDigest = "gsi_digest"     // S: partition key of indexDigest; absent without a digest
	// attrPending is pendingPartition while the record is pending: Put of a
	// pending record sets it, Finish removes it, so indexPending is sparse.
	attrPending = "gsi_pending" // S: partition key of indexPending

	// Main item fields.
	attrLayout    = "layout"       // N: layoutVersion
	attrKind      = "kind"         // S: record kind, for humans reading the table
	attrStatus    = "status"       // S: current status; Finish changes it
	attrReason    = "reason"       // S: current reason, absent when empty; Finish changes it
	attrCommitted = "committed_at" // S: RFC 3339, absent until committed; Finish sets it
	attrSum       = "sum"          // S: hex SHA-256 of the record's JSON as Put
	attrEncoding  = "enc"          // S: encodingJSON or encodingGzip
	attrBody      = "body"         // B: the encoded record, when it fits in the main item
	attrChunks    = "chunks"       // N: number of chunk items, when it does not
	attrBodySize  = "body_size"    // N: length of the encoded record in bytes
	attrExpires   = "expires_at"   // N: Unix seconds, the TTL attribute; absent without retention

	// Chunk item field.
	attrData = "data" // B: one slice of the encoded record
)

// Index names.
const (
	indexAll    = "by-time"
	indexRepo   = "by-repository"
	indexUser   = "by-user"
	indexDigest = "by-digest"
	// indexPending holds pending records only (Store.Pending); it projects
	// the repository, to filter on it.
	indexPending = "pending"
)

// indexes lists every index and its partition key attribute.
var indexes = []struct{ name, partitionKey string }{
	{indexAll, attrAll},
	{indexRepo, attrRepo},
	{indexUser, attrUser},
	{indexDigest, attrDigest},
	{indexPending, attrPending},
}

const (
	pkPrefix      = "rec#"
	skMain        = "rec"
	skChunkPrefix = "chunk#"
	// allPartition is the one partition of indexAll: every record.
	allPartition = "all"
	// pendingPartition is the one partition of indexPending.
	pendingPartition = "1"
	// layoutVersion marks the item layout, for future migrations.
	layoutVersion = "1"

	encodingJSON = "json"
	encodingGzip = "json+gzip"
)

// pk is the partition key of record id's items.
func pk(id string) string { return pkPrefix + id }
