package remote

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/imagegate/imagegate/scan"
)

// Status implements scan.Scanner: the state of the first scanner (in URL
// order) that is ready; when none is, Ready is false and Error says what
// each answered. Each request is bounded by StatusTimeout.
func (c *Client) Status(ctx context.Context) scan.Status {
	var why []string
	for _, base := range c.urls {
		st, err := c.status(ctx, base)
		if err == nil && st.Ready {
			return scan.Status{Ready: true, DBVersion: st.DBVersion, DBUpdatedAt: st.DBUpdatedAt}
		}
		if err == nil {
			err = fmt.Errorf("not ready: %s", st.Error)
		}
		why = append(why, base.Host+": "+err.Error())
	}
	return scan.Status{Error: "no scanner of the pool is ready: " + strings.Join(why, "; ")}
}

// status asks base for its status.
func (c *Client) status(ctx context.Context, base *url.URL) (wireStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.StatusTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base.JoinPath(PathStatus).String(), nil)
	if err != nil {
		return wireStatus{}, err
	}
	req.Header.Set("Authorization", "Bearer "+c.opts.Secret)
	resp, err := c.http.Do(req)
	if err != nil {
		return wireStatus{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return wireStatus{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return wireStatus{}, answerError(resp.StatusCode, data)
	}
	var st wireStatus
	if err := json.Unmarshal(data, &st); err != nil {
		return wireStatus{}, fmt.Errorf("decoding the status: %w", err)
	}
	return st, nil
}
