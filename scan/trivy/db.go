package trivy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	trivydb "github.com/aquasecurity/trivy-db/pkg/db"
	"github.com/aquasecurity/trivy-db/pkg/metadata"
	"github.com/aquasecurity/trivy/pkg/db"
	bolt "go.etcd.io/bbolt"

	"github.com/imagegate/imagegate/scan"
)

// Files and directories of CacheDir besides db/ and layers-v2/ (openLayerCache).
const (
	sourceFile      = "imagegate-source" // in a DB dir: the artifact digest it came from
	downloadPattern = "db-download-*"    // DB downloads in progress
	oldSuffix       = ".old"             // the previous DB dir during a swap
)

// dbInfo describes a DB directory.
type dbInfo struct {
	version    string    // schema version, "2"
	updatedAt  time.Time // when the DB content was built
	nextUpdate time.Time // when its publisher expects a newer one
	source     string    // digest of the artifact it was downloaded from, if known
}

// readDB checks that dir holds a DB this Trivy can read, with the
// "vulnerability" bucket Trivy needs, and describes it.
func readDB(dir string) (dbInfo, error) {
	meta, err := metadata.NewClient(dir).Get()
	if err != nil {
		return dbInfo{}, fmt.Errorf("read %s: %w", metadata.Path(dir), err)
	}
	if meta.Version != trivydb.SchemaVersion {
		return dbInfo{}, fmt.Errorf("DB in %s has schema version %d, this Trivy reads %d",
			dir, meta.Version, trivydb.SchemaVersion)
	}
	bdb, err := bolt.Open(trivydb.Path(dir), 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return dbInfo{}, fmt.Errorf("open %s: %w", trivydb.Path(dir), err)
	}
	err = bdb.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("vulnerability")) == nil {
			return errors.New(`no "vulnerability" bucket`)
		}
		return nil
	})
	if cerr := bdb.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return dbInfo{}, fmt.Errorf("DB %s: %w", trivydb.Path(dir), err)
	}
	info := dbInfo{version: strconv.Itoa(meta.Version), updatedAt: meta.UpdatedAt.UTC(), nextUpdate: meta.NextUpdate}
	if b, err := os.ReadFile(filepath.Join(dir, sourceFile)); err == nil {
		info.source = strings.TrimSpace(string(b))
	}
	return info, nil
}

// dbState owns trivy-db's process-global handle. Scans hold mu for
// reading while they match packages; a swap holds it for writing, so the
// handle is closed and reopened only while no scan runs.
type dbState struct {
	mu     sync.RWMutex
	loaded bool
	info   dbInfo

	stMu sync.Mutex // guards st, which Status reads without waiting for mu
	st   scan.Status
}

// current returns the loaded DB, if any, for a scan holding mu.RLock.
func (d *dbState) current() (dbInfo, bool) { return d.info, d.loaded }

// snapshot returns the loaded DB, if any, without holding mu.
func (d *dbState) snapshot() (dbInfo, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.info, d.loaded
}

// load opens the DB in dir (described by info) as the one in use. Nothing
// may be loaded.
func (d *dbState) load(dir string, info dbInfo) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := db.Init(dir); err != nil {
		return fmt.Errorf("open DB %s: %w", dir, err)
	}
	d.loaded, d.info = true, info
	d.setLoaded(info)
	return nil
}

// swap replaces the DB in dir by the one in staged (described by info):
// close the handle, move dir aside, move staged to dir, reopen; on failure
// the previous DB is restored. It waits for running scans to finish.
func (d *dbState) swap(dir, staged string, info dbInfo) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := db.Close(); err != nil {
		return fmt.Errorf("close DB: %w", err)
	}
	wasLoaded := d.loaded
	d.loaded = false
	old := dir + oldSuffix
	if err := os.RemoveAll(old); err != nil {
		return d.reopen(dir, wasLoaded, fmt.Errorf("remove %s: %w", old, err))
	}
	hadDir := true
	if err := os.Rename(dir, old); errors.Is(err, os.ErrNotExist) {
		hadDir = false
	} else if err != nil {
		return d.reopen(dir, wasLoaded, fmt.Errorf("move old DB aside: %w", err))
	}
	restore := func(cause error) error {
		if hadDir {
			_ = os.RemoveAll(dir)
			if err := os.Rename(old, dir); err != nil {
				return fmt.Errorf("%w; restoring the previous DB failed too: %v", cause, err)
			}
		}
		return d.reopen(dir, wasLoaded, cause)
	}
	if err := os.Rename(staged, dir); err != nil {
		return restore(fmt.Errorf("move new DB in place: %w", err))
	}
	if err := db.Init(dir); err != nil {
		return restore(fmt.Errorf("open new DB: %w", err))
	}
	d.loaded, d.info = true, info
	d.setLoaded(info)
	_ = os.RemoveAll(old)
	return nil
}

// reopen reopens the DB in dir after a failed swap if one was loaded
// before, and returns cause (joined with a reopen failure).
func (d *dbState) reopen(dir string, wasLoaded bool, cause error) error {
	if !wasLoaded {
		return cause
	}
	if err := db.Init(dir); err != nil {
		return fmt.Errorf("%w; reopening the previous DB failed too: %v", cause, err)
	}
	d.loaded = true
	return cause
}

// close closes the handle; nothing is loaded afterwards.
func (d *dbState) close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.loaded = false
	d.stMu.Lock()
	d.st = scan.Status{Error: "scanner closed"}
	d.stMu.Unlock()
	return db.Close()
}

// status returns the current Status.
func (d *dbState) status() scan.Status {
	d.stMu.Lock()
	defer d.stMu.Unlock()
	return d.st
}

// setLoaded records a successful load or update.
func (d *dbState) setLoaded(info dbInfo) {
	d.stMu.Lock()
	defer d.stMu.Unlock()
	d.st = scan.Status{Ready: true, DBVersion: info.version, DBUpdatedAt: info.updatedAt}
}

// setError records a DB problem; a loaded DB stays in use.
func (d *dbState) setError(msg string) {
	d.stMu.Lock()
	defer d.stMu.Unlock()
	d.st.Error = msg
}

// clearError records that the last check found nothing wrong.
func (d *dbState) clearError() {
	d.stMu.Lock()
	defer d.stMu.Unlock()
	d.st.Error = ""
}

// swapSame closes the handle and reopens dir (described by info), whose
// files were replaced out of band. It waits for running scans to finish.
func (d *dbState) swapSame(dir string, info dbInfo) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := db.Close(); err != nil {
		return fmt.Errorf("close DB: %w", err)
	}
	d.loaded = false
	if err := db.Init(dir); err != nil {
		return fmt.Errorf("open DB %s: %w", dir, err)
	}
	d.loaded, d.info = true, info
	d.setLoaded(info)
	return nil
}
