package sqlinject

import (
	"regexp"
	"strings"

	"github.com/imagegate/imagegate/metadata"
)

// payloads are SQL injection attempts in both dialects: quotes that end a
// string literal, comments, stacked statements, UNION reads, LIKE
// wildcards, time-based blind probes (a sleep that ran shows as a slow
// answer), backslash escapes (MySQL), dollar quoting and placeholders
// (PostgreSQL), a NUL, and a long one.
var payloads = []string{
	`' OR '1'='1`,
	`' OR 1=1 --`,
	`" OR ""="`,
	`'; DROP TABLE imagegate_records; --`,
	"`; DROP DATABASE imagegate; #",
	`'; DELETE FROM imagegate_records WHERE '1'='1`,
	`' UNION SELECT id, repository, user_subject, digest, kind, status, reason, committed_at, pending, body_sum, encoding, body FROM imagegate_records --`,
	`' AND (SELECT 1 FROM (SELECT SLEEP(5)) s) --`,
	`'; SELECT pg_sleep(5); --`,
	`' || pg_sleep(5) || '`,
	`1 OR SLEEP(5)`,
	`\' OR 1=1 #`,
	`\\'; DROP TABLE imagegate_records; #`,
	`$$; DROP TABLE imagegate_records; $$`,
	`$1`, `?`, `%`, `_`, `%' OR '%'='`,
	"x\x00' OR '1'='1",
	`') OR ('1'='1`,
	`'; COMMIT; DROP TABLE imagegate_schema_version; --`,
	strings.Repeat(`' OR '1'='1 `, 1000),
}

// sqlErrorText matches what a database or driver error says, in either
// dialect: none of it may reach an answer. (No payload matches it, so an
// answer that echoes the bad value is no false alarm: TestPayloadsClean.)
var sqlErrorText = regexp.MustCompile(`(?i)SQLSTATE|syntax error|error in your SQL|\bpq: |pgconn|pgx|` +
	`\[mysql\]|\bError \d{4}\b|\bERROR: |unterminated|does not exist|doesn't exist|\bsql: |driver: |` +
	`MariaDB|PostgreSQL|duplicate key|deadlock`)

// asCursor wraps a payload as a well-formed cursor (the API's encoding),
// so that it passes the encoding check and reaches the id check.
func asCursor(p string) string { return metadata.EncodeCursor([]byte(p)) }
