package trivy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	trivydb "github.com/aquasecurity/trivy-db/pkg/db"
	"github.com/aquasecurity/trivy/pkg/db"
	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
	"github.com/aquasecurity/trivy/pkg/oci"

	"github.com/imagegate/imagegate/internal/logs"
)

// Retry delays while no DB is loaded: the first retry comes soon, later
// ones back off up to UpdateInterval.
const firstRetry = 30 * time.Second

// loadExisting loads the DB already in CacheDir/db, if any, and records
// (and logs) why there is none otherwise.
func (s *Scanner) loadExisting(ctx context.Context) {
	dir := s.dbDir()
	_, statErr := os.Stat(trivydb.Path(dir))
	if errors.Is(statErr, os.ErrNotExist) {
		msg := fmt.Sprintf("no vulnerability DB in %s yet; downloading from %s", dir, s.opts.DBRepository)
		if s.opts.SkipUpdate {
			msg = fmt.Sprintf("no vulnerability DB in %s and SkipUpdate is set: prepare it out of band", dir)
			s.log.ErrorContext(ctx, "no vulnerability database: every scan fails until one is loaded",
				"dir", dir, "skip_update", true)
		} else {
			s.log.WarnContext(ctx, "no vulnerability database yet: scans fail until the first download",
				"dir", dir, "repository", s.opts.DBRepository)
		}
		s.db.setError(msg)
		return
	}
	if err := s.loadDir(dir); err != nil {
		s.log.ErrorContext(ctx, "cannot load the vulnerability database: every scan fails until one is loaded",
			"dir", dir, "err", err)
		s.db.setError(err.Error())
		return
	}
	info, _ := s.db.snapshot()
	s.log.InfoContext(ctx, "vulnerability database loaded", "dir", dir,
		"db_version", info.version, "db_updated_at", info.updatedAt)
}

// loadDir validates and opens the DB in dir, nothing being loaded.
func (s *Scanner) loadDir(dir string) error {
	info, err := readDB(dir)
	if err != nil {
		return err
	}
	return s.db.load(dir, info)
}

// Update brings the DB up to date now and returns what went wrong, which
// Status also reports. Without SkipUpdate it checks DBRepository and, when
// the loaded DB is due (its NextUpdate passed) and the repository's
// artifact differs from it, downloads the new one next to the old and
// swaps it in once no scan runs. With SkipUpdate it reopens CacheDir/db,
// for a DB refreshed out of band (replace its files by renaming new ones
// over them: never write into trivy.db while it is open). The update loop
// calls Update; an operator's "refresh now" may too.
func (s *Scanner) Update(ctx context.Context) error { return s.update(ctx, false) }

// Refresh is Update without waiting for the loaded DB's NextUpdate: it
// downloads whenever DBRepository's artifact differs from the loaded one.
// A scanner whose DB is behind the rest of its pool (scan/remote.Pin)
// catches up with it.
func (s *Scanner) Refresh(ctx context.Context) error { return s.update(ctx, true) }

func (s *Scanner) update(ctx context.Context, force bool) error {
	s.updateMu.Lock()
	defer s.updateMu.Unlock()
	var err error
	if s.opts.SkipUpdate {
		err = s.reload()
	} else {
		err = s.download(ctx, force)
	}
	if err != nil {
		s.db.setError(err.Error())
		return err
	}
	s.db.clearError()
	return nil
}

// reload reopens CacheDir/db.
func (s *Scanner) reload() error {
	dir := s.dbDir()
	info, err := readDB(dir)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	if err := s.db.swapSame(dir, info); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	return nil
}

// download fetches and swaps in a newer DB when one is published and,
// unless force, due.
func (s *Scanner) download(ctx context.Context, force bool) error {
	repo := s.opts.DBRepository
	cur, loaded := s.db.snapshot()
	if loaded && !force && time.Now().Before(cur.nextUpdate) {
		s.log.DebugContext(ctx, "vulnerability database is current", "next_update", cur.nextUpdate)
		return nil
	}
	regOpts := ftypes.RegistryOptions{Insecure: s.opts.DBInsecure}
	art := oci.NewArtifact(repo, regOpts)
	dgst, err := art.Digest(ctx)
	if err != nil {
		return fmt.Errorf("check vulnerability DB at %s: %w", repo, err)
	}
	if loaded && dgst == cur.source {
		s.log.DebugContext(ctx, "vulnerability database is the latest published", "digest", dgst)
		return nil
	}
	staged, err := os.MkdirTemp(s.opts.CacheDir, downloadPattern)
	if err != nil {
		return fmt.Errorf("stage vulnerability DB: %w", err)
	}
	defer os.RemoveAll(staged) // moved away by a successful swap
	start := time.Now()
	client := db.NewClient(staged, true, db.WithOCIArtifact(art))
	if err := client.Download(ctx, staged, regOpts); err != nil {
		return fmt.Errorf("download vulnerability DB from %s: %w", repo, err)
	}
	if err := os.WriteFile(filepath.Join(staged, sourceFile), []byte(dgst+"\n"), 0o600); err != nil {
		return fmt.Errorf("stage vulnerability DB: %w", err)
	}
	info, err := readDB(staged)
	if err != nil {
		return fmt.Errorf("downloaded vulnerability DB from %s@%s: %w", repo, dgst, err)
	}
	info.source = dgst
	if err := s.db.swap(s.dbDir(), staged, info); err != nil {
		return fmt.Errorf("swap in vulnerability DB from %s@%s: %w", repo, dgst, err)
	}
	s.log.InfoContext(ctx, "vulnerability database updated", "repository", repo, "digest", dgst,
		"db_version", info.version, "db_updated_at", info.updatedAt, logs.Ms("duration_ms", time.Since(start)))
	return nil
}

// updateLoop runs Update now and then every UpdateInterval until ctx
// ends; while no DB is loaded it retries sooner, backing off.
func (s *Scanner) updateLoop(ctx context.Context) {
	defer s.bg.Done()
	retry := firstRetry
	for {
		err := s.Update(ctx)
		if ctx.Err() != nil {
			return
		}
		wait := s.opts.UpdateInterval
		_, loaded := s.db.snapshot()
		switch {
		case err != nil && !loaded:
			wait = min(retry, wait)
			retry *= 2
			s.log.ErrorContext(ctx, "no vulnerability database: every scan fails until one is loaded",
				"repository", s.opts.DBRepository, "err", err, logs.Ms("retry_in_ms", wait))
		case err != nil:
			s.log.WarnContext(ctx, "vulnerability database update failed; the loaded one stays in use",
				"repository", s.opts.DBRepository, "err", err, logs.Ms("retry_in_ms", wait))
		default:
			retry = firstRetry
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
