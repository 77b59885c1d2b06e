package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// commandPaths lists every command of the tree but the hidden ones, as
// the words after "imagegate" ("token robot create").
func commandPaths(c *cobra.Command) [][]string {
	var out [][]string
	for _, sub := range c.Commands() {
		if sub.Hidden {
			continue
		}
		path := strings.Fields(sub.CommandPath())[1:]
		out = append(out, path)
		out = append(out, commandPaths(sub)...)
	}
	return out
}

// TestEveryCommandHasHelp: COMMAND --help, COMMAND -h and help COMMAND
// print that command's help on standard output, nothing on standard
// error, and exit 0 — for every command of the tree.
func TestEveryCommandHasHelp(t *testing.T) {
	paths := commandPaths(newRoot(nil))
	if len(paths) < 14 {
		t.Fatalf("only %d commands in the tree: %v", len(paths), paths)
	}
	paths = append(paths, []string{})
	for _, path := range paths {
		name := strings.Join(append([]string{"imagegate"}, path...), " ")
		for _, args := range [][]string{append(slices.Clone(path), "--help"), append(slices.Clone(path), "-h"), append([]string{"help"}, path...)} {
			stdout, stderr, status := cli(t, "", nil, args...)
			if status != 0 || stderr != "" {
				t.Errorf("imagegate %s: status %d, stderr %q", strings.Join(args, " "), status, stderr)
			}
			if !strings.Contains(stdout, "Usage:\n  "+name+" ") || !strings.Contains(stdout, "--help") {
				t.Errorf("imagegate %s: not the help of %s:\n%s", strings.Join(args, " "), name, stdout)
			}
		}
	}
}

// TestUsageErrors prints one line naming the problem and the command,
// then where its help is; nothing on standard output; exit status 2.
func TestUsageErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // first line of stderr
	}{
		{[]string{"sevre"}, `imagegate: unknown command "sevre" for "imagegate" (did you mean "serve"?)`},
		{[]string{"scna", "x"}, `imagegate: unknown command "scna" for "imagegate" (did you mean "scan"?)`},
		{[]string{"help", "bogus"}, `imagegate: unknown command "bogus" for "imagegate"`},
		{[]string{"serve", "extra"}, `imagegate serve: unexpected argument "extra"`},
		{[]string{"serve", "--config"}, `imagegate serve: flag needs an argument: --config`},
		{[]string{"scanner", "--bogus"}, `imagegate scanner: unknown flag: --bogus`},
		{[]string{"config"}, `imagegate config: missing command (one of: check)`},
		{[]string{"config", "chek", "x.yaml"}, `imagegate config: unknown command "chek" for "imagegate config" (did you mean "check"?)`},
		{[]string{"config", "check"}, `imagegate config check: missing FILE`},
		{[]string{"config", "check", "a.yaml", "b.yaml"}, `imagegate config check: unexpected argument "b.yaml"`},
		{[]string{"analyze"}, `imagegate analyze: missing REPOSITORY@DIGEST`},
		{[]string{"analyze", "team/app:1"}, `imagegate analyze: want REPOSITORY@DIGEST, got "team/app:1"`},
		{[]string{"scan"}, `imagegate scan: missing REPOSITORY@DIGEST`},
		{[]string{"scan", "team/app:1"}, `imagegate scan: want REPOSITORY@DIGEST, got "team/app:1"`},
		{[]string{"scan", "team/app@sha256:" + strings.Repeat("0", 64), "--jsn"}, `imagegate scan: unknown flag: --jsn`},
		{[]string{"push"}, `imagegate push: missing FILE (or - for standard input)`},
		{[]string{"push", "a.tar", "b.tar"}, `imagegate push: unexpected argument "b.tar"`},
		{[]string{"push", "a.tar", "--to", "team/app@sha256:00"}, `imagegate push: --to "team/app@sha256:00": a digest is decided by the archive, give REPO[:TAG]`},
		{[]string{"push", "-", "--tag", "x"}, `imagegate push: --tag needs --to REPO`},
		{[]string{"token"}, `imagegate token: missing command (one of: robot)`},
		{[]string{"token", "robot"}, `imagegate token robot: missing command (one of: create, list, revoke)`},
		{[]string{"token", "robot", "delete", "x"}, `imagegate token robot: unknown command "delete" for "imagegate token robot"`},
		{[]string{"token", "robot", "create"}, `imagegate token robot create: missing NAME`},
		{[]string{"token", "robot", "create", "x", "--scope", "team/**"}, `imagegate token robot create: --scope "team/**": want PATTERN:ACTIONS, e.g. 'team/**:pull,push'`},
		{[]string{"token", "robot", "create", "x", "--expires", "soon"}, `imagegate token robot create: invalid argument "soon" for "--expires" flag: time: invalid duration "soon"`},
		{[]string{"token", "robot", "list", "--scope", "a:pull"}, `imagegate token robot list: unknown flag: --scope`},
		{[]string{"token", "robot", "revoke"}, `imagegate token robot revoke: missing NAME`},
		{[]string{"bucket"}, `imagegate bucket: missing command (one of: init)`},
		{[]string{"bucket", "create"}, `imagegate bucket: unknown command "create" for "imagegate bucket"`},
		{[]string{"bucket", "init", "extra"}, `imagegate bucket init: unexpected argument "extra"`},
		{[]string{"metadata"}, `imagegate metadata: missing command (one of: migrate)`},
		{[]string{"metadata", "migrate", "extra"}, `imagegate metadata migrate: unexpected argument "extra"`},
		{[]string{"completion"}, `imagegate completion: missing SHELL (bash, zsh, fish or powershell)`},
		{[]string{"completion", "tcsh"}, `imagegate completion: unknown shell "tcsh": want one of bash, zsh, fish, powershell`},
		{[]string{"version", "x"}, `imagegate version: unexpected argument "x"`},
	} {
		stdout, stderr, status := cli(t, "", nil, tc.args...)
		lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
		path := strings.TrimSuffix(strings.SplitN(tc.want, ": ", 2)[0], ":")
		wantRun := "Run '" + path + " --help' for usage."
		if status != 2 || stdout != "" || len(lines) != 2 || lines[0] != tc.want || lines[1] != wantRun {
			t.Errorf("imagegate %s: status %d, stdout %q, stderr:\n%s\nwant status 2 and:\n%s\n%s",
				strings.Join(tc.args, " "), status, stdout, stderr, tc.want, wantRun)
		}
	}
}

// TestNoCommand prints the usage on standard error and exits 2.
func TestNoCommand(t *testing.T) {
	stdout, stderr, status := cli(t, "", nil)
	if status != 2 || stdout != "" || !strings.Contains(stderr, "Commands:\n") ||
		!strings.HasSuffix(stderr, "imagegate: missing command\nRun 'imagegate --help' for usage.\n") {
		t.Fatalf("status %d, stdout %q, stderr:\n%s", status, stdout, stderr)
	}
}

// TestConfigCheckHelpIsHelp: --help after config check is the help, not
// a file named --help; "--" still reaches such a file.
func TestConfigCheckHelpIsHelp(t *testing.T) {
	stdout, _, status := cli(t, "", nil, "config", "check", "--help")
	if status != 0 || !strings.Contains(stdout, "imagegate config check FILE") {
		t.Fatalf("status %d:\n%s", status, stdout)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "--help"), []byte("log:\n  level: debug\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	stdout, stderr, status := cli(t, "", nil, "config", "check", "--", "--help")
	if status != 0 || !strings.HasPrefix(stdout, "# --help is valid") {
		t.Fatalf("config check -- --help: status %d\n%s%s", status, stdout, stderr)
	}
}

func TestLongFlags(t *testing.T) {
	root := newRoot(nil)
	for _, tc := range []struct{ in, want []string }{
		{[]string{"serve", "-config", "c.yaml"}, []string{"serve", "--config", "c.yaml"}},
		{[]string{"push", "-", "-to=team/app:1", "-json", "-h"}, []string{"push", "-", "--to=team/app:1", "--json", "-h"}},
		{[]string{"push", "x", "-nosuchflag", "--", "-json"}, []string{"push", "x", "-nosuchflag", "--", "-json"}},
		{[]string{"-version"}, []string{"--version"}},
	} {
		if got := longFlags(root, tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("longFlags(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestCompletion: every shell's script is printed; bash's (and zsh's,
// when zsh is installed) parses; the __complete protocol the scripts call
// completes commands and flags from the tree.
func TestCompletion(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ shell, want string }{
		{"bash", "complete -o default -F __start_imagegate imagegate"},
		{"zsh", "#compdef imagegate"},
		{"fish", "complete -c imagegate "},
		{"powershell", "Register-ArgumentCompleter"},
	} {
		stdout, stderr, status := cli(t, "", nil, "completion", tc.shell)
		if status != 0 || stderr != "" || !strings.Contains(stdout, tc.want) {
			t.Errorf("completion %s: status %d, stderr %q, script lacks %q", tc.shell, status, stderr, tc.want)
			continue
		}
		script := filepath.Join(dir, "imagegate."+tc.shell)
		if err := os.WriteFile(script, []byte(stdout), 0o600); err != nil {
			t.Fatal(err)
		}
		if tc.shell != "bash" && tc.shell != "zsh" {
			continue
		}
		bin, err := exec.LookPath(tc.shell)
		if err != nil {
			t.Logf("%s not installed: its script is not parsed", tc.shell)
			continue
		}
		if out, err := exec.Command(bin, "-n", script).CombinedOutput(); err != nil {
			t.Errorf("%s -n: %v\n%s", tc.shell, err, out)
		}
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"sc"}, []string{"scan\t", "scanner\t", ":4"}},
		{[]string{"token", "robot", ""}, []string{"create\t", "list\t", "revoke\t"}},
		{[]string{"push", "x.tar", "--ser"}, []string{"--server\t"}},
		{[]string{"completion", ""}, []string{"bash", "zsh", "fish", "powershell"}},
		{[]string{"config", "check", ""}, []string{"yaml\n", "yml\n", ":8"}}, // 8: filter file extensions
	} {
		stdout, _, status := cli(t, "", nil, append([]string{"__complete"}, tc.args...)...)
		for _, w := range tc.want {
			if status != 0 || !strings.Contains(stdout, w) {
				t.Errorf("__complete %q: status %d, lacks %q:\n%s", tc.args, status, w, stdout)
			}
		}
	}
}

// TestBashCompletionScript runs the bash script's completion function
// the way bash does on TAB, with this test binary as imagegate.
func TestBashCompletionScript(t *testing.T) {
	const lib = "/usr/share/bash-completion/bash_completion"
	if _, err := os.Stat(lib); err != nil {
		liveserver.Unavailable(t, "the bash-completion package is not installed (%s): %v", lib, err)
	}
	script, _, _ := cli(t, "", nil, "completion", "bash")
	path := filepath.Join(t.TempDir(), "imagegate.bash")
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	complete := func(words ...string) string {
		t.Helper()
		sh := `source "$1"; source "$2"; shift 2
COMP_WORDS=("$@"); COMP_CWORD=$(($#-1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
__start_imagegate 2>/dev/null; echo "${COMPREPLY[*]}"`
		cmd := exec.Command("bash", append([]string{"-c", sh, "bash", lib, path, os.Args[0]}, words...)...)
		cmd.Env = append(os.Environ(), "IMAGEGATE_TEST_RUN_MAIN=1")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("completing %q: %v", words, err)
		}
		return strings.TrimSpace(string(out))
	}
	if got := complete("sc"); got != "scan scanner" {
		t.Errorf("imagegate sc<TAB>: %q", got)
	}
	if got := complete("token", "robot", "create", "ci", "--ex"); got != "--expires" {
		t.Errorf("imagegate token robot create ci --ex<TAB>: %q", got)
	}
}

// TestMainExitStatus runs main itself (this test binary re-executed) so
// that os.Exit's statuses are the ones a shell sees.
func TestMainExitStatus(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		status int
	}{
		{[]string{"version"}, 0},
		{[]string{"help", "push"}, 0},
		{[]string{"push", "--help"}, 0},
		{[]string{"config", "check", filepath.Join(t.TempDir(), "missing.yaml")}, 1},
		{[]string{"bogus"}, 2},
		{[]string{}, 2},
	} {
		cmd := exec.Command(os.Args[0], tc.args...)
		cmd.Env = append(os.Environ(), "IMAGEGATE_TEST_RUN_MAIN=1")
		out, err := cmd.CombinedOutput()
		status := 0
		if ee, ok := err.(*exec.ExitError); ok {
			status = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if status != tc.status {
			t.Errorf("imagegate %s: exit status %d, want %d\n%s", strings.Join(tc.args, " "), status, tc.status, out)
		}
	}
}

// TestMain runs main instead of the tests when TestMainExitStatus
// re-executes this binary.
func TestMain(m *testing.M) {
	if os.Getenv("IMAGEGATE_TEST_RUN_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}
