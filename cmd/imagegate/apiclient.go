package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// clientFlags are the flags of the commands that call the server's API
// (scan, token robot …): --server, --username (password on standard
// input), --token, --json. IMAGEGATE_SERVER and IMAGEGATE_TOKEN give
// defaults, as for push.
type clientFlags struct {
	server, user, token string
	asJSON              bool
	env                 map[string]string
}

// addClientFlags defines the client flags on fs; user describes who
// --username logs in as.
func addClientFlags(fs *pflag.FlagSet, environ []string, user string) *clientFlags {
	f := &clientFlags{env: envMap(environ)}
	fs.StringVar(&f.server, "server", firstNonEmpty(f.env["IMAGEGATE_SERVER"], "http://127.0.0.1:5000"), "imagegate base `URL` (env IMAGEGATE_SERVER)")
	fs.StringVar(&f.user, "username", "", user+" (password from standard input)")
	// IMAGEGATE_TOKEN is applied in connect, not as the default: the help
	// prints defaults.
	fs.StringVar(&f.token, "token", "", "bearer `token` to send instead of logging in (env IMAGEGATE_TOKEN)")
	fs.BoolVar(&f.asJSON, "json", false, "print the API's JSON answer (errors too) on standard output")
	return f
}

// connect returns a client of the server; with --username it logs in
// first (password read from cmd's standard input) for scope.
func (f *clientFlags) connect(cmd *cobra.Command, timeout time.Duration, scope string) (*apiClient, error) {
	c := &apiClient{base: strings.TrimRight(f.server, "/"), token: firstNonEmpty(f.token, f.env["IMAGEGATE_TOKEN"]),
		http: &http.Client{Timeout: timeout}}
	if f.user == "" {
		return c, nil
	}
	pw, err := readPassword(cmd.InOrStdin(), cmd.ErrOrStderr(), f.user)
	if err != nil {
		return nil, err
	}
	if c.token, err = fetchToken(c.http, c.base, f.user, pw, scope); err != nil {
		return nil, err
	}
	return c, nil
}

// report connects (connect), sends method path without a body and writes
// the answer to cmd's standard output: as the API's JSON with --json,
// else through print. With --json an error is written as JSON too; the
// error is returned either way, for the caller to wrap.
func (f *clientFlags) report(cmd *cobra.Command, timeout time.Duration, scope, method, path string, print func(io.Writer, []byte) error) error {
	c, err := f.connect(cmd, timeout, scope)
	var body []byte
	if err == nil {
		body, err = c.call(cmd.Context(), method, path, nil)
	}
	if err == nil && f.asJSON {
		_, err = cmd.OutOrStdout().Write(body)
	} else if err == nil {
		err = print(cmd.OutOrStdout(), body)
	}
	if err != nil && f.asJSON {
		writeJSONError(cmd.OutOrStdout(), err)
	}
	return err
}

// apiClient calls the server's /api/v1 with a bearer token.
type apiClient struct {
	base, token string
	http        *http.Client
}

// call sends method path (body, when not nil, as JSON) and returns the
// answer's body; an answer with a status of 300 or more is an *apiError.
func (c *apiClient) call(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encoding the request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("--server %q: %w", c.base, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		return nil, newAPIError(resp.StatusCode, out)
	}
	return out, nil
}

// fetchToken logs in to the server's token service as user and returns an
// access token for scope; a refusal is an *apiError.
func fetchToken(client *http.Client, server, user, password, scope string) (string, error) {
	u := strings.TrimRight(server, "/") + "/auth/token?scope=" + url.QueryEscape(scope)
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("--server %q: %w", server, err)
	}
	req.SetBasicAuth(user, password)
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("logging in: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("logging in as %s: reading the answer: %w", user, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("logging in as %s: %w", user, newAPIError(resp.StatusCode, body))
	}
	var tr struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &tr); err != nil || tr.Token == "" {
		return "", fmt.Errorf("logging in as %s: the token service answered no token", user)
	}
	return tr.Token, nil
}

// readPassword reads user's password from stdin: on a terminal after a
// prompt on stderr, without echo; otherwise its first line.
func readPassword(stdin io.Reader, stderr io.Writer, user string) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(stderr, "Password for %s: ", user)
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		return string(pw), nil
	}
	pw, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	return strings.TrimRight(pw, "\r\n"), nil
}
