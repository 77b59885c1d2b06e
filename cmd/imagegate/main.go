// Command imagegate is an OCI registry push endpoint that validates and
// scans every image before it becomes pullable.
//
//	imagegate serve [--config FILE]     run the registry
//	imagegate scanner [--config FILE]   run one scanner of a scanner pool (scan.pool)
//	imagegate config check FILE         validate a config, print the effective one
//	imagegate scan REPO@DIGEST          rescan a stored image with the server's current DB
//	imagegate token robot …             create, list and revoke robot accounts
//	imagegate push FILE|- --to REPO:TAG upload a docker-save / OCI tarball through the gate
//	imagegate bucket init [--dry-run]   prepare the S3 bucket (docs/s3.md)
//	imagegate completion SHELL          print a shell completion script
//	imagegate version                   print version, commit and Go version
//
// `imagegate help COMMAND` and `imagegate COMMAND --help` describe each
// command. Exit status: 0 done, 1 failed, 2 usage error, 3 push refused
// by the server (docs/push-cli.md).
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/imagegate/imagegate/scan/trivy"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Environ())
	// Every Scanner is closed once run returns (serve and scanner drain
	// before returning); Trivy's per-process scratch directory goes too.
	if cerr := trivy.RemoveProcessTemp(); cerr != nil {
		fmt.Fprintln(os.Stderr, "imagegate:", cerr)
	}
	os.Exit(report(err, os.Stderr))
}

// run executes the command line args (without the program name) with the
// given standard streams and environment; main reports its error.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, environ []string) error {
	root := newRoot(environ)
	root.SetArgs(longFlags(root, args))
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return root.ExecuteContext(ctx)
}
