package sqlstore

import (
	"strconv"
	"strings"
)

// Dialect is what differs between PostgreSQL and MySQL in the statements
// of the stores: placeholders, the insert that ignores an existing key,
// the bounded delete, and the schema. Every statement is a constant of
// this package with ? placeholders; Rebind turns them into $n for
// PostgreSQL. No statement is ever built from input text: values travel
// as parameters only.
type Dialect struct {
	name string
	// onConflict ends an INSERT that does nothing when the primary key
	// exists: ON CONFLICT DO NOTHING, or MySQL's no-op ON DUPLICATE KEY
	// UPDATE (INSERT IGNORE would also turn data errors into warnings).
	onConflict func(key string) string
	// pendingTrue is the predicate of pending records, as the pending
	// index is defined (a partial index in PostgreSQL).
	pendingTrue string
	// useIndex names the index a List must read (a constant of schema.go):
	// MySQL's hint, empty for PostgreSQL, whose planner picks it. MariaDB,
	// left to itself, sometimes reads the primary key backwards from the
	// newest record and filters, down to a deep cursor: 40,051 rows and
	// 3.5 s for one page of 50, against 51 rows and 0.26 ms on the index
	// (docs/metadata-sql.md).
	useIndex func(index string) string
	// migrations are the schema versions, in order (schema.go).
	migrations []migration
}

var (
	postgres = &Dialect{
		name:        Postgres,
		onConflict:  func(string) string { return " ON CONFLICT DO NOTHING" },
		pendingTrue: "pending",
		useIndex:    func(string) string { return "" },
		migrations:  postgresMigrations,
	}
	mysql = &Dialect{
		name:        MySQL,
		onConflict:  func(key string) string { return " ON DUPLICATE KEY UPDATE " + key + " = " + key },
		pendingTrue: "pending = 1",
		useIndex:    func(index string) string { return " FORCE INDEX (" + index + ")" },
		migrations:  mysqlMigrations,
	}
)

// Name is Postgres or MySQL.
func (d *Dialect) Name() string { return d.name }

// InsertIgnore returns the INSERT of columns into table that does nothing
// (0 rows affected) when the row's primary key exists; key is the first
// primary key column. table and columns are the caller's constants.
func (d *Dialect) InsertIgnore(table, key string, columns ...string) string {
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(columns)), ", ")
	return d.Rebind("INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES (" + marks + ")" + d.onConflict(key))
}

// Rebind returns query (a constant with ? placeholders, none inside
// quotes) with the dialect's placeholders.
func (d *Dialect) Rebind(query string) string {
	if d.name != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// BoundedDelete is a DELETE of at most limit rows matching where in
// table, whose primary key is key: PostgreSQL has no DELETE … LIMIT.
func (d *Dialect) BoundedDelete(table, key, where string, limit int) string {
	if d.name == Postgres {
		return d.Rebind("DELETE FROM " + table + " WHERE (" + key + ") IN (SELECT " + key + " FROM " + table +
			" WHERE " + where + " LIMIT " + strconv.Itoa(limit) + ")")
	}
	return "DELETE FROM " + table + " WHERE " + where + " LIMIT " + strconv.Itoa(limit)
}
