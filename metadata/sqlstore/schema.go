package sqlstore

// Table names: every table of imagegate starts with imagegate_, so the
// stores can share a database with other applications.
const (
	tableRecords = "imagegate_records"
	tableFleet   = "imagegate_fleet"
	tableVersion = "imagegate_schema_version"
)

// The indexes List reads by filter (created by the migrations below).
const (
	indexRepository = "imagegate_records_repository"
	indexUser       = "imagegate_records_user"
	indexDigest     = "imagegate_records_digest"
)

// Bounds of the indexed columns, in bytes, checked before any statement
// runs (a longer value is metadata.ErrInvalid, never a database error).
const (
	maxIDBytes     = 128
	maxNameBytes   = 1024 // repository, user subject
	maxDigestBytes = 255
	maxWordBytes   = 64 // kind, status
)

// migration is one schema version: its statements run in order, under
// the migration lock. In PostgreSQL they run in one transaction with the
// version's row; MySQL commits each DDL statement on its own, so every
// statement must be safe to run again (IF NOT EXISTS) after a crash
// between it and the version's row.
type migration struct {
	version    int
	statements []string
}

// postgresMigrations: text columns in the "C" collation compare as bytes,
// as the other stores do (ids sort as UUIDv7 text, fleet keys in byte
// order). records_pending is a partial index holding only pending
// records, so Pending's cost follows their number.
var postgresMigrations = []migration{{
	version: 1,
	statements: []string{
		`CREATE TABLE IF NOT EXISTS imagegate_records (
			id           text COLLATE "C" PRIMARY KEY,
			repository   text COLLATE "C" NOT NULL,
			user_subject text COLLATE "C" NOT NULL,
			digest       text COLLATE "C" NOT NULL,
			kind         text NOT NULL,
			status       text NOT NULL,
			reason       bytea NOT NULL,
			committed_at text NOT NULL,
			pending      boolean NOT NULL,
			body_sum     text NOT NULL,
			encoding     text NOT NULL,
			body         bytea NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS imagegate_records_repository ON imagegate_records (repository, id)`,
		`CREATE INDEX IF NOT EXISTS imagegate_records_user ON imagegate_records (user_subject, id)`,
		`CREATE INDEX IF NOT EXISTS imagegate_records_digest ON imagegate_records (digest, id)`,
		`CREATE INDEX IF NOT EXISTS imagegate_records_pending ON imagegate_records (id) WHERE pending`,
		`CREATE TABLE IF NOT EXISTS imagegate_fleet (
			space      text COLLATE "C" NOT NULL,
			item_key   text COLLATE "C" NOT NULL,
			value      bytea NOT NULL,
			version    bigint NOT NULL,
			expires_ms bigint NOT NULL,
			PRIMARY KEY (space, item_key)
		)`,
		`CREATE INDEX IF NOT EXISTS imagegate_fleet_expiry ON imagegate_fleet (expires_ms) WHERE expires_ms > 0`,
	},
}}

// mysqlMigrations: VARBINARY columns compare as bytes (no collation, no
// trailing-space padding); records_pending is an index on the pending
// flag and id, so Pending reads the range of pending records only.
var mysqlMigrations = []migration{{
	version: 1,
	statements: []string{
		`CREATE TABLE IF NOT EXISTS imagegate_records (
			id           VARBINARY(128) NOT NULL,
			repository   VARBINARY(1024) NOT NULL,
			user_subject VARBINARY(1024) NOT NULL,
			digest       VARBINARY(255) NOT NULL,
			kind         VARBINARY(64) NOT NULL,
			status       VARBINARY(64) NOT NULL,
			reason       MEDIUMBLOB NOT NULL,
			committed_at VARBINARY(64) NOT NULL,
			pending      TINYINT NOT NULL,
			body_sum     VARBINARY(64) NOT NULL,
			encoding     VARBINARY(16) NOT NULL,
			body         LONGBLOB NOT NULL,
			PRIMARY KEY (id),
			INDEX imagegate_records_repository (repository, id),
			INDEX imagegate_records_user (user_subject, id),
			INDEX imagegate_records_digest (digest, id),
			INDEX imagegate_records_pending (pending, id)
		) ENGINE=InnoDB`,
		`CREATE TABLE IF NOT EXISTS imagegate_fleet (
			space      VARBINARY(64) NOT NULL,
			item_key   VARBINARY(512) NOT NULL,
			value      MEDIUMBLOB NOT NULL,
			version    BIGINT NOT NULL,
			expires_ms BIGINT NOT NULL,
			PRIMARY KEY (space, item_key),
			INDEX imagegate_fleet_expiry (expires_ms)
		) ENGINE=InnoDB`,
	},
}}

// LatestVersion is the schema version this build writes and reads.
func (d *Dialect) LatestVersion() int { return d.migrations[len(d.migrations)-1].version }
