package outage

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// sqlServer is a PostgreSQL or MariaDB server of the test's own, started
// and stopped by its script (scripts/postgres.sh, scripts/mariadb.sh) in a
// directory of the test's: a restart keeps its data and its port.
type sqlServer struct {
	t      *testing.T
	driver string
	script string
	dir    string
	dsn    string
}

func newPostgres(t *testing.T) database {
	// The shared server's presence says we run where the script can.
	liveserver.RequireEnv(t, "IMAGEGATE_TEST_POSTGRES_DSN", "PostgreSQL (make test starts it)")
	return newSQLServer(t, "postgres", "postgres.sh", "IMAGEGATE_TEST_POSTGRES_DSN=")
}

func newMariaDB(t *testing.T) database {
	liveserver.RequireEnv(t, "IMAGEGATE_TEST_MYSQL_DSN", "MariaDB (make test starts it)")
	return newSQLServer(t, "mysql", "mariadb.sh", "IMAGEGATE_TEST_MYSQL_DSN=")
}

func newSQLServer(t *testing.T, driver, script, prefix string) *sqlServer {
	s := &sqlServer{t: t, driver: driver, script: script, dir: t.TempDir()}
	out := s.run("start")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	dsn, ok := strings.CutPrefix(lines[len(lines)-1], prefix)
	if !ok {
		t.Fatalf("%s start printed no %s...:\n%s", script, prefix, out)
	}
	s.dsn = dsn
	t.Cleanup(s.stop)
	return s
}

// configure: each test has a server of its own, so name is not needed.
// Short timeouts make the outage show quickly.
func (s *sqlServer) configure(cfg *config.Config, _ string) {
	cfg.Metadata.Driver = s.driver
	cfg.Metadata.SQL.DSN = config.Secret(s.dsn)
	cfg.Metadata.SQL.ConnectTimeout = 2 * time.Second
	cfg.Metadata.SQL.QueryTimeout = 2 * time.Second
}

// run runs the script's action on the test's directory and returns its
// standard output.
func (s *sqlServer) run(action string) string {
	s.t.Helper()
	cmd := exec.Command("bash", "../../scripts/"+s.script, action, s.dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		s.t.Fatalf("%s %s: %v\n%s%s", s.script, action, err, out, stderr.String())
	}
	return string(out)
}

func (s *sqlServer) start() { s.run("start") }
func (s *sqlServer) stop()  { s.run("stop") }
