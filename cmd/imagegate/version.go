package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/imagegate/imagegate/internal/buildinfo"
)

// newVersionCmd is `imagegate version` (also `imagegate --version`).
func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "version",
		Short:             "Print version, commit and Go version",
		Args:              positional(),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), buildinfo.String())
			return err
		},
	}
}
