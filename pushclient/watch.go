package pushclient

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// watchRetry is the delay between attempts to open the event stream: the
// upload is unknown to the server until its request has arrived.
const watchRetry = 100 * time.Millisecond

// maxEventBytes bounds one event of the stream (its data lines together);
// a status is a few kilobytes.
const maxEventBytes = 4 << 20

// watch follows GET /api/v1/uploads/{id}/events until the upload ends or
// ctx is cancelled, reporting every status. Progress is best effort: a
// stream that cannot be opened only means fewer updates.
func watch(ctx context.Context, client *http.Client, base *url.URL, opts Options, rep *reporter) {
	u := *base
	u.Path += "/api/v1/uploads/" + url.PathEscape(opts.UploadID) + "/events"
	for {
		ended := stream(ctx, client, u.String(), opts, rep)
		if ended {
			return
		}
		t := time.NewTimer(watchRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// stream reads one event stream; it returns true once the upload has
// ended (or the stream cannot help: auth refused, ctx done).
func stream(ctx context.Context, client *http.Client, target string, opts Options, rep *reporter) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return true
	}
	req.Header.Set("Accept", "text/event-stream")
	authorize(req, opts)
	resp, err := client.Do(req)
	if err != nil {
		return ctx.Err() != nil
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return false // not started yet
	case resp.StatusCode != http.StatusOK:
		return true
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var data strings.Builder
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "data:"):
			payload := strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
			if data.Len()+len(payload) > maxEventBytes {
				return true // an event that does not end: stop following
			}
			data.WriteString(payload)
		case line == "" && data.Len() > 0:
			var s Status
			if json.Unmarshal([]byte(data.String()), &s) == nil {
				rep.server(s)
				if s.Stage == "done" || s.Stage == "failed" {
					return true
				}
			}
			data.Reset()
		}
	}
	return ctx.Err() != nil
}

// fetchStatus reads GET /api/v1/uploads/{id} once.
func fetchStatus(ctx context.Context, client *http.Client, base *url.URL, opts Options) (*Status, error) {
	u := *base
	u.Path += "/api/v1/uploads/" + url.PathEscape(opts.UploadID)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	authorize(req, opts)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("upload status: %s", resp.Status)
	}
	var s Status
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&s); err != nil {
		return nil, fmt.Errorf("upload status: %w", err)
	}
	return &s, nil
}
