package outage

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// dynamo is a DynamoDB Local instance this test stops and starts, keeping
// its tables on disk across restarts.
type dynamo struct {
	t        *testing.T
	dir      string
	port     string
	endpoint string
}

func newDynamo(t *testing.T) database {
	// The shared instance's presence says we run where DynamoDB Local can.
	liveserver.RequireEnv(t, "IMAGEGATE_TEST_DYNAMODB_ENDPOINT", "DynamoDB Local (make test starts it)")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	d := &dynamo{t: t, dir: t.TempDir(), port: port, endpoint: "http://127.0.0.1:" + port}
	d.start()
	t.Cleanup(d.stop)
	return d
}

func (d *dynamo) configure(cfg *config.Config, name string) {
	cfg.Metadata.Driver = "dynamodb"
	cfg.Metadata.DynamoDB.Endpoint = d.endpoint
	cfg.Metadata.DynamoDB.Table = name
	cfg.Metadata.DynamoDB.CreateTable = true
	cfg.Metadata.DynamoDB.MaxAttempts = 2
}

func (d *dynamo) script(action string) {
	d.t.Helper()
	cmd := exec.Command("bash", "../../scripts/dynamodb-local.sh", action, d.dir)
	cmd.Env = append(os.Environ(), "DYNAMODB_PORT="+d.port, "DYNAMODB_DBPATH="+filepath.Join(d.dir, "db"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		d.t.Fatalf("dynamodb-local.sh %s: %v\n%s", action, err, out)
	}
}

func (d *dynamo) start() { d.script("start") }
func (d *dynamo) stop()  { d.script("stop") }
