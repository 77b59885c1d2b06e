package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/imagegate/imagegate/internal/buildinfo"
)

const rootLong = `imagegate is an OCI registry push endpoint: every image pushed to it is
validated and scanned before it becomes pullable.

Every configuration key can be set by environment: http.addr is IMAGEGATE_HTTP_ADDR.
The client commands (push, scan, analyze, optimize, token, retention, gc) read IMAGEGATE_SERVER and IMAGEGATE_TOKEN.

Exit status: 0 done, 1 failed, 2 usage error, 3 push or optimize refused by the server.`

// newRoot builds the command tree; environ is the process environment
// the commands read (configuration overlay, client defaults). Errors are
// returned, never printed: main's report prints them.
func newRoot(environ []string) *cobra.Command {
	root := &cobra.Command{
		Use:           "imagegate",
		Short:         "OCI registry push endpoint that validates and scans every image",
		Long:          rootLong,
		Version:       buildinfo.String(),
		SilenceErrors: true,
		SilenceUsage:  true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(cmd, args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprint(cmd.ErrOrStderr(), cmd.UsageString())
			return usagef(cmd, "missing command")
		},
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(flagError)
	root.SetUsageFunc(writeUsage)
	root.CompletionOptions.DisableDefaultCmd = true // newCompletionCmd: usage errors like every command
	root.AddCommand(
		newServeCmd(environ),
		newScannerCmd(environ),
		newConfigCmd(environ),
		newBucketCmd(environ),
		newMetadataCmd(environ),
		newPushCmd(environ),
		newScanCmd(environ),
		newAnalyzeCmd(environ),
		newOptimizeCmd(environ),
		newTokenCmd(environ),
		newRetentionCmd(environ),
		newGCCmd(environ),
		newCompletionCmd(root),
		newVersionCmd(),
	)
	root.SetHelpCommand(newHelpCmd(root))
	return root
}
