package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// newHelpCmd is `imagegate help [COMMAND]...`: the help of root or of the
// named command on standard output (exit 0); an unknown name is a usage
// error, as it is without "help" (cobra's own help command prints the
// root's usage and exits 0).
func newHelpCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND]...",
		Short: "Show the help of a command",
		Long:  "Show the help of a command, as COMMAND --help does.",
		ValidArgsFunction: func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			target, _, _ := root.Find(args)
			var names []cobra.Completion
			for _, c := range target.Commands() {
				if c.IsAvailableCommand() && strings.HasPrefix(c.Name(), toComplete) {
					names = append(names, cobra.CompletionWithDesc(c.Name(), c.Short))
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(_ *cobra.Command, args []string) error {
			target, rest, err := root.Find(args)
			if err != nil {
				return err
			}
			if len(rest) > 0 {
				return unknownCommand(target, rest[0])
			}
			target.InitDefaultHelpFlag() // cobra adds them when it parses the command's flags
			target.InitDefaultVersionFlag()
			return target.Help()
		},
	}
}

// writeUsage is every command's usage (what --help prints after the
// description): cobra's layout, except that a command holding
// subcommands shows "PATH COMMAND" rather than its own use line, and
// flags inherited from a parent command are "Shared flags".
func writeUsage(c *cobra.Command) error {
	w := c.OutOrStderr()
	fmt.Fprint(w, "Usage:\n  ")
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "%s COMMAND [flags]\n", c.CommandPath())
	} else {
		fmt.Fprintln(w, c.UseLine())
	}
	if c.HasExample() {
		fmt.Fprintf(w, "\nExamples:\n%s\n", strings.TrimRight(c.Example, "\n"))
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintln(w, "\nCommands:")
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() || sub.Name() == "help" {
				fmt.Fprintf(w, "  %-*s %s\n", sub.NamePadding(), sub.Name(), sub.Short)
			}
		}
	}
	writeFlags(w, "Flags", c.LocalFlags().FlagUsages())
	writeFlags(w, "Shared flags", c.InheritedFlags().FlagUsages())
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\nRun '%s COMMAND --help' for the help of a command.\n", c.CommandPath())
	}
	return nil
}

func writeFlags(w io.Writer, title, usages string) {
	if usages = strings.TrimRight(usages, " \n"); usages != "" {
		fmt.Fprintf(w, "\n%s:\n%s\n", title, usages)
	}
}
