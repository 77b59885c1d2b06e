package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

const robotLong = `Create, list and revoke robot accounts (docs/auth.md) through a running
server's admin API, as an admin: --username (password from standard input,
prompted on a terminal) or --token.`

// robotTimeout bounds one admin API call.
const robotTimeout = time.Minute

// newTokenCmd is `imagegate token`, which holds `token robot create|list|revoke`.
func newTokenCmd(environ []string) *cobra.Command {
	robot := group(&cobra.Command{
		Use:   "robot",
		Short: "Create, list and revoke robot accounts",
		Long:  robotLong,
	})
	f := addClientFlags(robot.PersistentFlags(), environ, "admin `user`")
	robot.AddCommand(newRobotCreateCmd(f), newRobotListCmd(f), newRobotRevokeCmd(f))
	token := group(&cobra.Command{
		Use:   "token",
		Short: "Manage robot accounts (tokens for CI)",
	})
	token.AddCommand(robot)
	return token
}

// robotRun runs do with an admin client; with --json its error is also
// printed on standard output as JSON.
func robotRun(f *clientFlags, do func(cmd *cobra.Command, args []string, c *apiClient) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		// Admin API calls need the catalog scope; the token says whether
		// its bearer is an admin.
		c, err := f.connect(cmd, robotTimeout, "registry:catalog:*")
		if err == nil {
			err = do(cmd, args, c)
		}
		if err == nil {
			return nil
		}
		if f.asJSON {
			writeJSONError(cmd.OutOrStdout(), err)
		}
		return fmt.Errorf("token: %w", err)
	}
}

func newRobotCreateCmd(f *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create robot$NAME and print its secret (shown only once)",
		Example: `  imagegate token robot create deployer --scope 'prod/**:pull' --expires 24h --username admin < pw
  imagegate token robot create ci --scope 'team/**:pull,push' --token "$ADMIN_TOKEN" --json`,
		Args:              positional("NAME"),
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	scopes := cmd.Flags().StringArray("scope", nil, "what the robot may do, as `PATTERN:ACTIONS`: 'team/**:pull,push' (repeatable)")
	expires := cmd.Flags().Duration("expires", 30*24*time.Hour, "robot lifetime")
	run := robotRun(f, func(cmd *cobra.Command, args []string, c *apiClient) error {
		req := map[string]any{"name": args[0], "expires_in": expires.String(), "scopes": robotScopes(*scopes)}
		out, err := c.call(cmd.Context(), http.MethodPost, "/api/v1/robots", req)
		if err != nil {
			return err
		}
		if f.asJSON {
			_, err := cmd.OutOrStdout().Write(out)
			return err
		}
		var r struct{ Username, Secret string }
		if err := json.Unmarshal(out, &r); err != nil {
			return fmt.Errorf("decoding the answer: %w", err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "username: %s\nsecret:   %s\n(the secret is shown only now; store it in your CI's secret store)\n", r.Username, r.Secret)
		return nil
	})
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		for _, s := range *scopes {
			if pattern, actions, ok := strings.Cut(s, ":"); !ok || pattern == "" || actions == "" {
				return usagef(cmd, "--scope %q: want PATTERN:ACTIONS, e.g. 'team/**:pull,push'", s)
			}
		}
		return run(cmd, args)
	}
	return cmd
}

// robotScopes is the API's form of PATTERN:ACTIONS scopes (checked).
func robotScopes(scopes []string) []map[string]any {
	list := []map[string]any{}
	for _, s := range scopes {
		pattern, actions, _ := strings.Cut(s, ":")
		list = append(list, map[string]any{"repositories": pattern, "actions": strings.Split(actions, ",")})
	}
	return list
}

func newRobotListCmd(f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:               "list",
		Short:             "List the robot accounts (never their secrets)",
		Args:              positional(),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: robotRun(f, func(cmd *cobra.Command, args []string, c *apiClient) error {
			out, err := c.call(cmd.Context(), http.MethodGet, "/api/v1/robots", nil)
			if err != nil {
				return err
			}
			if f.asJSON {
				_, err := cmd.OutOrStdout().Write(out)
				return err
			}
			return printRobots(cmd.OutOrStdout(), out)
		}),
	}
}

// printRobots prints the API's robot list as a table.
func printRobots(w io.Writer, answer []byte) error {
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
	if err := json.Unmarshal(answer, &l); err != nil {
		return fmt.Errorf("decoding the answer: %w", err)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tEXPIRES\tCREATED BY\tSCOPES")
	for _, r := range l.Robots {
		var sc []string
		for _, s := range r.Scopes {
			sc = append(sc, s.Repositories+":"+strings.Join(s.Actions, ","))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Username, r.ExpiresAt.Format(time.RFC3339), r.CreatedBy, strings.Join(sc, " "))
	}
	return tw.Flush()
}

func newRobotRevokeCmd(f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:               "revoke NAME",
		Short:             "Revoke robot$NAME (the robot$ prefix is optional)",
		Args:              positional("NAME"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: robotRun(f, func(cmd *cobra.Command, args []string, c *apiClient) error {
			name := strings.TrimPrefix(args[0], "robot$")
			if _, err := c.call(cmd.Context(), http.MethodDelete, "/api/v1/robots/"+url.PathEscape(name), nil); err != nil {
				return err
			}
			if f.asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"username": "robot$" + name, "revoked": true})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked robot$%s\n", name)
			return nil
		}),
	}
}
