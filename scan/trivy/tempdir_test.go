package trivy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	xos "github.com/aquasecurity/trivy/pkg/x/os"
)

// tempChildEnv makes the test binary, run by TestRemoveProcessTemp, act as
// a process that used Trivy's temporary directory and is exiting.
const tempChildEnv = "IMAGEGATE_TEST_TRIVY_TEMP_CHILD"

// TestRemoveProcessTemp runs a child process (the process-wide directory
// cannot be removed in this one without breaking the other tests) that
// makes Trivy create its trivy-* directory, then removes it: nothing is
// left in the child's TMPDIR.
func TestRemoveProcessTemp(t *testing.T) {
	if os.Getenv(tempChildEnv) == "1" {
		f, err := xos.CreateTemp("", "scratch-")
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if err := RemoveProcessTemp(); err != nil {
			t.Fatal(err)
		}
		return
	}
	tmp := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRemoveProcessTemp$")
	cmd.Env = append(os.Environ(), tempChildEnv+"=1", "TMPDIR="+tmp)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	left, err := filepath.Glob(filepath.Join(tmp, "*"))
	if err != nil || len(left) != 0 {
		t.Fatalf("TMPDIR after RemoveProcessTemp: %v %v, want empty", left, err)
	}
}
