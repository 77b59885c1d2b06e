package trivy_test

import (
	"testing"

	"github.com/imagegate/imagegate/scan/remote"
	"github.com/imagegate/imagegate/scan/remote/remotetest"
	"github.com/imagegate/imagegate/scan/scantest"
	"github.com/imagegate/imagegate/scan/trivy"
)

// TestRemoteContract runs the contract suite through the scanner pool's
// client against a scanner server running this Trivy engine, which reads
// the layers from registry storage on the filesystem driver.
func TestRemoteContract(t *testing.T) {
	ns := remotetest.Storage(t)
	remotetest.AddContractImages(t, ns)
	engine := openFixture(t, trivy.Options{})
	url := remotetest.Serve(t, ns, remote.ServerOptions{Scanner: engine, Refresh: engine.Refresh})
	scantest.Contract(t, remotetest.Client(t, remote.ClientOptions{}, url))
}
