package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/distribution/reference"
	"github.com/spf13/cobra"
)

const scanLong = `Ask a running server to scan REPOSITORY@DIGEST again with its current
vulnerability DB and print the verdict and the findings (POST
/api/v1/repositories/REPOSITORY/manifests/DIGEST/scan). Log in with --username
(password from standard input, prompted on a terminal) or send --token.
With --json, standard output is the API's answer, or its errors.`

// scanTimeout bounds a rescan: the server scans while the client waits.
const scanTimeout = 10 * time.Minute

// scanReport mirrors the API's answer to a rescan.
type scanReport struct {
	Repository string `json:"repository"`
	Digest     string `json:"digest"`
	Scan       struct {
		Scanner   string         `json:"scanner"`
		DBVersion string         `json:"db_version"`
		Counts    map[string]int `json:"counts"`
		Verdict   string         `json:"verdict"`
		Policy    string         `json:"policy"`
		Findings  []struct {
			ID, Package, Installed, Fixed, Severity string
		} `json:"findings"`
	} `json:"scan"`
}

// newScanCmd is `imagegate scan REPOSITORY@DIGEST`.
func newScanCmd(environ []string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scan REPOSITORY@DIGEST",
		Short: "Rescan a stored image with the server's current vulnerability DB",
		Long:  scanLong,
		Example: `  imagegate scan team/app@sha256:4f2c… --server https://registry.example.com
  echo "$PASSWORD" | imagegate scan team/app@sha256:4f2c… --username alice --json`,
		Args:              positional("REPOSITORY@DIGEST"),
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	f := addClientFlags(cmd.Flags(), environ, "log in as `user`")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ref, err := reference.ParseNormalizedNamed(args[0])
		canonical, ok := ref.(reference.Canonical)
		if err != nil || !ok {
			return usagef(cmd, "want REPOSITORY@DIGEST, got %q", args[0])
		}
		if err := scanImage(cmd, f, canonical); err != nil {
			if f.asJSON {
				writeJSONError(cmd.OutOrStdout(), err)
			}
			return fmt.Errorf("scan %s: %w", args[0], err)
		}
		return nil
	}
	return cmd
}

// scanImage asks the server of f to rescan ref and prints its answer.
func scanImage(cmd *cobra.Command, f *clientFlags, ref reference.Canonical) error {
	repo := reference.Path(ref)
	// A rescan needs push on the repository (api.rescan), not just pull.
	c, err := f.connect(cmd, scanTimeout, "repository:"+repo+":pull,push")
	if err != nil {
		return err
	}
	body, err := c.call(cmd.Context(), http.MethodPost, fmt.Sprintf("/api/v1/repositories/%s/manifests/%s/scan", repo, ref.Digest()), nil)
	if err != nil {
		return err
	}
	if f.asJSON {
		_, err := cmd.OutOrStdout().Write(body)
		return err
	}
	var r scanReport
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("decoding the answer: %w", err)
	}
	return printScan(cmd.OutOrStdout(), r)
}

// printScan prints a rescan: the image, scanner, DB, policy and verdict,
// then a table of findings.
func printScan(w io.Writer, r scanReport) error {
	fmt.Fprintf(w, "%s@%s\nscanner %s, db %s, policy %q: %s\n", r.Repository, r.Digest, r.Scan.Scanner, r.Scan.DBVersion, r.Scan.Policy, r.Scan.Verdict)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tID\tPACKAGE\tINSTALLED\tFIXED")
	for _, f := range r.Scan.Findings {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Severity, f.ID, f.Package, f.Installed, f.Fixed)
	}
	return tw.Flush()
}
