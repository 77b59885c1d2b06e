package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/distribution/reference"
	"github.com/spf13/cobra"

	"github.com/imagegate/imagegate/analysis"
	"github.com/imagegate/imagegate/layers"
)

const analyzeLong = `Ask a running server for the layer analysis of REPOSITORY@DIGEST (GET
/api/v1/repositories/REPOSITORY/manifests/DIGEST/layers) and print it: each
layer's size, what it added, changed and removed and the command that made
it; the image's efficiency and wasted bytes (as Dive defines them); the
biggest recognisable waste and hints to shrink it. Log in with --username
(password from standard input, prompted on a terminal) or send --token.
With --json, standard output is the API's answer, or its errors.`

// analyzeTimeout bounds an analysis: a layer pushed before analysis
// existed is read once more while the client waits.
const analyzeTimeout = 10 * time.Minute

// layersAnswer mirrors the API's answer.
type layersAnswer struct {
	Repository string         `json:"repository"`
	Digest     string         `json:"digest"`
	Report     *layers.Report `json:"report"`
}

// newAnalyzeCmd is `imagegate analyze REPOSITORY@DIGEST`.
func newAnalyzeCmd(environ []string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "analyze REPOSITORY@DIGEST",
		Short: "Show a stored image's layer analysis: sizes, waste, efficiency, hints",
		Long:  analyzeLong,
		Example: `  imagegate analyze team/app@sha256:4f2c… --server https://registry.example.com
  echo "$PASSWORD" | imagegate analyze team/app@sha256:4f2c… --username alice --json`,
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
		if err := analyzeImage(cmd, f, canonical); err != nil {
			if f.asJSON {
				writeJSONError(cmd.OutOrStdout(), err)
			}
			return fmt.Errorf("analyze %s: %w", args[0], err)
		}
		return nil
	}
	return cmd
}

// analyzeImage asks the server of f for ref's layer report and prints it.
func analyzeImage(cmd *cobra.Command, f *clientFlags, ref reference.Canonical) error {
	repo := reference.Path(ref)
	c, err := f.connect(cmd, analyzeTimeout, "repository:"+repo+":pull")
	if err != nil {
		return err
	}
	body, err := c.call(cmd.Context(), http.MethodGet, fmt.Sprintf("/api/v1/repositories/%s/manifests/%s/layers", repo, ref.Digest()), nil)
	if err != nil {
		return err
	}
	if f.asJSON {
		_, err := cmd.OutOrStdout().Write(body)
		return err
	}
	var a layersAnswer
	if err := json.Unmarshal(body, &a); err != nil || a.Report == nil {
		return fmt.Errorf("decoding the answer: %v", err)
	}
	return printLayers(cmd.OutOrStdout(), a)
}

// maxWasteRows bounds the waste and inefficiency rows printed.
const maxWasteRows = 10

// printLayers prints a layer report: a summary line, a table of layers,
// the recognisable waste and the hints.
func printLayers(w io.Writer, a layersAnswer) error {
	r := a.Report
	b := analysis.Bytes
	fmt.Fprintf(w, "%s@%s\n", a.Repository, a.Digest)
	fmt.Fprintf(w, "image %s in %d layers (%s counting every layer's files); efficiency %.1f %%, wasted %s (%.1f %%)\n\n",
		b(r.ImageBytes), len(r.Layers), b(r.TotalBytes), r.Efficiency*100, b(r.WastedBytes), r.WastedPercent)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LAYER\tSIZE\tCOMPRESSED\tFILES\tADDED\tMODIFIED\tREMOVED\tCOMMAND")
	for i, l := range r.Layers {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", i+1, b(l.UncompressedBytes), b(l.CompressedSize), l.Files,
			b(l.AddedBytes), b(l.ModifiedBytes), b(l.RemovedBytes), analysis.Command(l.CreatedBy))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Waste) > 0 {
		fmt.Fprintln(w, "\nWASTE")
		tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KIND\tPATH\tBYTES\tLAYER\tCOMMAND")
		for i, f := range r.Waste {
			if i == maxWasteRows {
				fmt.Fprintf(tw, "…\t%d more\t\t\t\n", len(r.Waste)-i)
				break
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", f.Kind, f.Path, b(f.Bytes), f.Layer+1, analysis.Command(f.CreatedBy))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Inefficiencies) > 0 {
		fmt.Fprintln(w, "\nIN SEVERAL LAYERS")
		tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PATH\tLAYERS\tWASTED")
		for i, in := range r.Inefficiencies {
			if i == maxWasteRows {
				fmt.Fprintf(tw, "… %d more\t\t\n", len(r.Inefficiencies)-i)
				break
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\n", in.Path, in.Count, b(in.WastedBytes))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Hints) > 0 {
		fmt.Fprintln(w, "\nHINTS")
		for _, h := range r.Hints {
			fmt.Fprintf(w, "  - %s\n", strings.TrimSpace(h.Text))
		}
	}
	return nil
}
