package main

import (
	"fmt"
	"io"

	"github.com/imagegate/imagegate/internal/buildinfo"
)

func version(stdout io.Writer) error {
	_, err := fmt.Fprintln(stdout, buildinfo.String())
	return err
}
