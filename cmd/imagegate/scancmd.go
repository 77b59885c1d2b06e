package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/distribution/reference"
)

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

// scanCmd asks a running server to scan REPO@DIGEST again with its current
// vulnerability DB and prints the findings.
func scanCmd(args []string, stdout io.Writer, stdin io.Reader) error {
	fs := flag.NewFlagSet("scan", flag.ContinueOnError)
	server := fs.String("server", "http://127.0.0.1:5000", "imagegate base `URL`")
	user := fs.String("username", "", "log in as `user` (password from standard input)")
	token := fs.String("token", "", "bearer `token` to send instead of logging in")
	asJSON := fs.Bool("json", false, "print the API's JSON answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errUsage
	}
	ref, err := reference.ParseNormalizedNamed(fs.Arg(0))
	canonical, ok := ref.(reference.Canonical)
	if err != nil || !ok {
		return fmt.Errorf("scan: want REPOSITORY@DIGEST, got %q", fs.Arg(0))
	}
	repo := reference.Path(canonical)
	client := &http.Client{Timeout: 10 * time.Minute}
	if *user != "" {
		pw, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("scan: reading the password: %w", err)
		}
		if *token, err = fetchToken(client, *server, *user, strings.TrimRight(pw, "\r\n"), "repository:"+repo+":pull"); err != nil {
			return fmt.Errorf("scan: %w", err)
		}
	}
	endpoint := fmt.Sprintf("%s/api/v1/repositories/%s/manifests/%s/scan", strings.TrimRight(*server, "/"), repo, canonical.Digest())
	req, _ := http.NewRequest(http.MethodPost, endpoint, nil)
	if *token != "" {
		req.Header.Set("Authorization", "Bearer "+*token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("scan: reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("scan: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	if *asJSON {
		_, err := stdout.Write(body)
		return err
	}
	var r scanReport
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("scan: decoding the answer: %w", err)
	}
	fmt.Fprintf(stdout, "%s@%s\nscanner %s, db %s, policy %q: %s\n", r.Repository, r.Digest, r.Scan.Scanner, r.Scan.DBVersion, r.Scan.Policy, r.Scan.Verdict)
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tID\tPACKAGE\tINSTALLED\tFIXED")
	for _, f := range r.Scan.Findings {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Severity, f.ID, f.Package, f.Installed, f.Fixed)
	}
	return tw.Flush()
}

// fetchToken logs in to the server's token service as user and returns an
// access token for scope.
func fetchToken(client *http.Client, server, user, password, scope string) (string, error) {
	u := strings.TrimRight(server, "/") + "/auth/token?scope=" + url.QueryEscape(scope)
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.SetBasicAuth(user, password)
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("logging in: %w", err)
	}
	defer resp.Body.Close()
	var tr struct {
		Token string `json:"token"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&tr) != nil {
		return "", fmt.Errorf("logging in as %s: %s", user, resp.Status)
	}
	return tr.Token, nil
}
