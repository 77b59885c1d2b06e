package main

import (
	"strings"

	"github.com/spf13/cobra"
)

const completionLong = `Print a completion script for SHELL on standard output.

  bash:       source <(imagegate completion bash)
              (needs the bash-completion package; or save it to
              /etc/bash_completion.d/imagegate)
  zsh:        imagegate completion zsh > "${fpath[1]}/_imagegate"
              (with "autoload -U compinit; compinit" in ~/.zshrc)
  fish:       imagegate completion fish > ~/.config/fish/completions/imagegate.fish
  powershell: imagegate completion powershell | Out-String | Invoke-Expression

The scripts complete commands, flags, file arguments (config files for
--config and config check) and shell names; they call imagegate itself
(a hidden __complete command), so they follow the binary's version.`

// newCompletionCmd is `imagegate completion SHELL`: cobra's completion
// scripts for root. (cobra's default completion command prints its help
// and exits 0 on a missing or unknown shell.)
func newCompletionCmd(root *cobra.Command) *cobra.Command {
	shells := []string{"bash", "zsh", "fish", "powershell"}
	var noDesc bool
	cmd := &cobra.Command{
		Use:       "completion SHELL",
		Short:     "Print a shell completion script (bash, zsh, fish, powershell)",
		Long:      completionLong,
		ValidArgs: shells,
		Args:      positional("SHELL (bash, zsh, fish or powershell)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, !noDesc)
			case "zsh":
				if noDesc {
					return root.GenZshCompletionNoDesc(out)
				}
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, !noDesc)
			case "powershell":
				if noDesc {
					return root.GenPowerShellCompletion(out)
				}
				return root.GenPowerShellCompletionWithDesc(out)
			}
			return usagef(cmd, "unknown shell %q: want one of %s", args[0], strings.Join(shells, ", "))
		},
	}
	cmd.Flags().BoolVar(&noDesc, "no-descriptions", false, "complete without the descriptions of commands and flags")
	return cmd
}
