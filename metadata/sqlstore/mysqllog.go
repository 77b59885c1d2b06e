package sqlstore

import (
	"fmt"
	"log/slog"
	"sync"

	gomysql "github.com/go-sql-driver/mysql"
)

// driverLog routes go-sql-driver/mysql's own messages (a bad idle
// connection closed, a packet error) to slog, so they appear as JSON lines
// like every other log line instead of the driver's plain-text stderr.
// The driver's logger is process-wide: set once, by the first MySQL pool.
var setDriverLog sync.Once

type driverLog struct{}

// Print implements gomysql.Logger.
func (driverLog) Print(v ...any) {
	slog.Default().Warn("mysql driver", "component", "metadata", "message", fmt.Sprint(v...))
}

func routeDriverLog() {
	setDriverLog.Do(func() { _ = gomysql.SetLogger(driverLog{}) })
}
