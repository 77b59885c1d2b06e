package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// errUsage matches (errors.Is) every command-line mistake: exit status 2.
var errUsage = errors.New("usage")

// usageError is a command-line mistake in the command at path ("imagegate
// scan"): main prints "PATH: MESSAGE" and "Run 'PATH --help' for usage."
// on standard error and exits with status 2.
type usageError struct {
	path string
	err  error
}

func (e *usageError) Error() string        { return e.err.Error() }
func (e *usageError) Unwrap() error        { return e.err }
func (e *usageError) Is(target error) bool { return target == errUsage }

// usagef is a usage error of cmd with a formatted message.
func usagef(cmd *cobra.Command, format string, args ...any) error {
	return &usageError{path: cmd.CommandPath(), err: fmt.Errorf(format, args...)}
}

// flagError turns pflag's parse errors (unknown flag, missing or bad
// value) into usage errors of the command that parsed them.
func flagError(cmd *cobra.Command, err error) error {
	return &usageError{path: cmd.CommandPath(), err: err}
}

// positional accepts exactly one positional argument per name in names
// (shown in messages: "missing FILE", `unexpected argument "x"`).
func positional(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < len(names):
			return usagef(cmd, "missing %s", strings.Join(names[len(args):], " "))
		case len(args) > len(names):
			return usagef(cmd, "unexpected argument %q", args[len(names)])
		}
		return nil
	}
}

// group makes cmd a command that only holds subcommands: run alone it is
// a usage error naming the subcommands, and an unknown subcommand is one
// too, with cobra's suggestions. (cobra would print the help and exit 0
// for the first and accept the second as an argument.)
func group(cmd *cobra.Command) *cobra.Command {
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		return unknownCommand(cmd, args[0])
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		var names []string
		for _, c := range cmd.Commands() {
			if c.IsAvailableCommand() {
				names = append(names, c.Name())
			}
		}
		return usagef(cmd, "missing command (one of: %s)", strings.Join(names, ", "))
	}
	return cmd
}

// unknownCommand is the usage error for a subcommand cmd does not have,
// with the closest names cobra finds (Levenshtein distance, prefixes).
func unknownCommand(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, which SuggestionsFor does not apply
	}
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %q?)", strings.Join(s, `" or "`))
	}
	return &usageError{path: cmd.CommandPath(), err: errors.New(msg)}
}
