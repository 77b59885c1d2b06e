package main

import (
	"errors"
	"fmt"
	"io"
)

// Exit statuses besides 0 (done), 1 (failed) and 2 (usage error).
const exitRefused = 3 // push, optimize: the server refused the upload (4xx): the gate's verdict, a bad archive, no access

// exitError carries an exit status for main.
type exitError struct {
	err  error
	code int
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }
func (e *exitError) ExitCode() int { return e.code }

// report prints err on stderr and returns the exit status it stands for:
// 0 for nil; 2 for a usage error, printed as "PATH: MESSAGE" and a line
// pointing at PATH --help; an exitError's own status; 1 for anything
// else, printed as "imagegate: MESSAGE".
func report(err error, stderr io.Writer) int {
	var usage *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "%s: %s\nRun '%s --help' for usage.\n", usage.path, usage.err, usage.path)
		return 2
	}
	fmt.Fprintln(stderr, "imagegate:", err)
	return exitStatus(err)
}

// exitStatus is the exit status err carries, 1 by default.
func exitStatus(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 1
}
