package main

import (
	"bufio"
	"bytes"
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
)

// tokenCmd manages robot accounts through a running server's admin API:
//
//	imagegate token robot create NAME --scope 'team/**:pull,push' [--expires 720h]
//	imagegate token robot list
//	imagegate token robot revoke NAME
//
// as an admin (--username, password on standard input; or --token).
func tokenCmd(args []string, stdout io.Writer, stdin io.Reader) error {
	if len(args) < 2 || args[0] != "robot" {
		return errUsage
	}
	action := args[1]
	fs := flag.NewFlagSet("token robot "+action, flag.ContinueOnError)
	server := fs.String("server", "http://127.0.0.1:5000", "imagegate base `URL`")
	user := fs.String("username", "", "admin `user` (password from standard input)")
	token := fs.String("token", "", "admin bearer `token`")
	var scopes multiFlag
	fs.Var(&scopes, "scope", "`PATTERN:ACTIONS` the robot may do, e.g. 'team/**:pull,push' (repeatable)")
	expires := fs.Duration("expires", 30*24*time.Hour, "robot lifetime")
	if err := fs.Parse(reorder(args[2:])); err != nil {
		return err
	}
	base := strings.TrimRight(*server, "/")
	client := &http.Client{Timeout: time.Minute}
	if *user != "" {
		pw, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("token: reading the password: %w", err)
		}
		// Admin API calls need the catalog scope; the token says whether
		// its bearer is an admin.
		if *token, err = fetchToken(client, base, *user, strings.TrimRight(pw, "\r\n"), "registry:catalog:*"); err != nil {
			return fmt.Errorf("token: %w", err)
		}
	}
	call := func(method, path string, body any) ([]byte, error) {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Content-Type", "application/json")
		if *token != "" {
			req.Header.Set("Authorization", "Bearer "+*token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("token: %w", err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		if resp.StatusCode >= 300 {
			return nil, fmt.Errorf("token: %s: %s", resp.Status, strings.TrimSpace(string(out)))
		}
		return out, nil
	}

	switch {
	case action == "create" && fs.NArg() == 1:
		req := map[string]any{"name": fs.Arg(0), "expires_in": expires.String()}
		var list []map[string]any
		for _, s := range scopes {
			pattern, actions, ok := strings.Cut(s, ":")
			if !ok {
				return fmt.Errorf("token: --scope %q: want PATTERN:ACTIONS", s)
			}
			list = append(list, map[string]any{"repositories": pattern, "actions": strings.Split(actions, ",")})
		}
		req["scopes"] = list
		out, err := call(http.MethodPost, "/api/v1/robots", req)
		if err != nil {
			return err
		}
		var r struct{ Username, Secret string }
		if err := json.Unmarshal(out, &r); err != nil {
			return fmt.Errorf("token: decoding the answer: %w", err)
		}
		fmt.Fprintf(stdout, "username: %s\nsecret:   %s\n(the secret is shown only now; store it in your CI's secret store)\n", r.Username, r.Secret)
		return nil
	case action == "list" && fs.NArg() == 0:
		out, err := call(http.MethodGet, "/api/v1/robots", nil)
		if err != nil {
			return err
		}
		var l struct {
			Robots []struct {
				Username  string    `json:"username"`
				ExpiresAt time.Time `json:"expires_at"`
				CreatedBy string    `json:"created_by"`
				Scopes    []struct {
					Repositories string
					Actions      []string
				} `json:"scopes"`
			} `json:"robots"`
		}
		if err := json.Unmarshal(out, &l); err != nil {
			return fmt.Errorf("token: decoding the answer: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USERNAME\tEXPIRES\tCREATED BY\tSCOPES")
		for _, r := range l.Robots {
			var sc []string
			for _, s := range r.Scopes {
				sc = append(sc, s.Repositories+":"+strings.Join(s.Actions, ","))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Username, r.ExpiresAt.Format(time.RFC3339), r.CreatedBy, strings.Join(sc, " "))
		}
		return tw.Flush()
	case action == "revoke" && fs.NArg() == 1:
		_, err := call(http.MethodDelete, "/api/v1/robots/"+url.PathEscape(fs.Arg(0)), nil)
		if err == nil {
			fmt.Fprintf(stdout, "revoked robot$%s\n", fs.Arg(0))
		}
		return err
	}
	return errUsage
}

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// reorder moves flags (all of which take a value) before positional
// arguments, so that
// "create NAME --scope …" parses like "create --scope … NAME".
func reorder(args []string) []string {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			flags = append(flags, a)
			if !strings.Contains(a, "=") && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		rest = append(rest, a)
	}
	return append(flags, rest...)
}
