package registry

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
	fleetsql "github.com/imagegate/imagegate/fleet/sqlstore"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/metadata/sqlstore"
)

// sqlConfig is the store configuration of metadata.driver postgres or
// mysql, of the metadata store and the fleet state in the same database
// (one pool: openSQL).
func sqlConfig(m config.Metadata) sqlstore.Config {
	c := m.SQL
	return sqlstore.Config{
		Driver: m.Driver, DSN: c.DSN.Reveal(),
		MaxOpenConns: c.MaxOpenConns, MaxIdleConns: c.MaxIdleConns,
		ConnMaxLifetime: c.ConnMaxLifetime, ConnectTimeout: c.ConnectTimeout, QueryTimeout: c.QueryTimeout,
		TLS: sqlstore.TLS{Mode: c.TLS.Mode, CAFile: c.TLS.CAFile},
		IAMAuth: sqlstore.IAMAuth{Enabled: c.IAMAuth.Enabled, Region: c.IAMAuth.Region,
			Endpoint: c.IAMAuth.Endpoint, User: c.IAMAuth.User},
		Retention: c.Retention, SkipMigrations: c.SkipMigrations,
	}
}

// SQLConfig is sqlConfig for `imagegate metadata migrate`.
func SQLConfig(m config.Metadata) sqlstore.Config { return sqlConfig(m) }

// openSQL opens the SQL metadata store on the pool of shared when it is
// the fleet store of the same database (one pool per replica, closed with
// the fleet store after the records'), else on a pool of its own.
func openSQL(ctx context.Context, m config.Metadata, shared fleet.Store) (*sqlstore.Store, error) {
	if fs, ok := shared.(*fleetsql.Store); ok {
		return sqlstore.NewOn(fs.DB(), m.SQL.Retention), nil
	}
	return sqlstore.New(ctx, sqlConfig(m))
}

// registerPoolMetrics exports the connection pool statistics of the SQL
// stores among store and shared (go_sql_* with db_name "metadata", and
// "fleet" when the fleet store has a pool of its own: open, in use and idle connections, waits for one and their
// total time, connections closed by the idle and lifetime bounds); other
// stores have no pool.
func registerPoolMetrics(reg prometheus.Registerer, store metadata.Store, shared fleet.Store) error {
	var records *sqlstore.DB
	if s, ok := store.(*sqlstore.Store); ok {
		records = s.DB()
		if err := reg.Register(collectors.NewDBStatsCollector(records.SQL(), "metadata")); err != nil {
			return err
		}
	}
	if s, ok := shared.(*fleetsql.Store); ok && s.DB() != records {
		return reg.Register(collectors.NewDBStatsCollector(s.DB().SQL(), "fleet"))
	}
	return nil
}
