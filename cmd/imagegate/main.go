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
//	imagegate version                   print version, commit and Go version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

const usage = `usage: imagegate <command> [flags]

commands:
  serve [--config FILE]   run the registry (defaults: 127.0.0.1:5000, storage under ./data)
  scanner [--config FILE] run one scanner of a scanner pool on scan.pool.addr (docs/scanning.md)
  config check FILE       validate FILE with the IMAGEGATE_* environment, print the effective config
  scan REPO@DIGEST [--server URL] [--username U (password on stdin) | --token T] [--json]
                          rescan a stored image with the server's current vulnerability DB
  token robot create NAME --scope 'PATTERN:ACTIONS' [--expires 720h] | list | revoke NAME
                          manage robot accounts (as an admin: --username U, password on stdin, or --token T)
  bucket init [--dry-run] [--config FILE]
                          create the S3 bucket and apply its security and lifecycle settings (docs/s3.md)
  push FILE|- [--server URL] [--to REPO[:TAG]] [--tag T]... [--token T | --username U --password P] [--insecure] [--json] [--quiet]
                          upload a docker save / OCI layout tarball through the gate (docs/push-cli.md);
                          exit status 3 when the server refuses it
  version                 print version, commit and Go version

Every configuration key can be set by environment: http.addr is IMAGEGATE_HTTP_ADDR.
`

// errUsage marks command-line mistakes (exit status 2).
var errUsage = errors.New("usage")

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.Environ())
	switch {
	case err == nil:
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	case errors.As(err, new(*exitError)): // push: 3 when the server refused
		fmt.Fprintln(os.Stderr, "imagegate:", err)
		os.Exit(exitStatus(err))
	default:
		fmt.Fprintln(os.Stderr, "imagegate:", err)
		os.Exit(1)
	}
}

// run executes the command named by args[0].
func run(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) error {
	if len(args) == 0 {
		return errUsage
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, environ)
	case "scanner":
		return scannerCmd(ctx, args[1:], stdout, environ)
	case "config":
		if len(args) < 2 || args[1] != "check" {
			return errUsage
		}
		return configCheck(args[2:], stdout, environ)
	case "bucket":
		return bucketCmd(ctx, args[1:], stdout, environ)
	case "token":
		return tokenCmd(args[1:], stdout, os.Stdin)
	case "scan":
		return scanCmd(args[1:], stdout, os.Stdin)
	case "push":
		return pushCmd(ctx, args[1:], os.Stdin, stdout, stderr, environ)
	case "version", "--version":
		return version(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q: %w", args[0], errUsage)
}
