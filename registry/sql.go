package registry

import (
	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/metadata/sqlstore"
)

// sqlConfig is the store configuration of metadata.driver postgres or
// mysql, shared by the metadata store and the fleet state in the same
// database (each opens its own pool of at most maxopenconns).
func sqlConfig(m config.Metadata) sqlstore.Config {
	c := m.SQL
	return sqlstore.Config{
		Driver: m.Driver, DSN: c.DSN.Reveal(),
		MaxOpenConns: c.MaxOpenConns, MaxIdleConns: c.MaxIdleConns,
		ConnMaxLifetime: c.ConnMaxLifetime, ConnectTimeout: c.ConnectTimeout, QueryTimeout: c.QueryTimeout,
		TLS: sqlstore.TLS{Mode: c.TLS.Mode, CAFile: c.TLS.CAFile},
		IAMAuth: sqlstore.IAMAuth{Enabled: c.IAMAuth.Enabled, Region: c.IAMAuth.Region,
			Endpoint: c.IAMAuth.Endpoint, User: c.IAMAuth.User},
		Retention: c.Retention, SkipMigrations: !c.AutoMigrate,
	}
}

// SQLConfig is sqlConfig for `imagegate metadata migrate`.
func SQLConfig(m config.Metadata) sqlstore.Config { return sqlConfig(m) }
