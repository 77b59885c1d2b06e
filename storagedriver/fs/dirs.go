package fs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// mkdirAll creates dir and its missing parents, returning those it
// created (deepest last), whose entries syncDirs must make durable.
func mkdirAll(dir string) ([]string, error) {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return nil, fmt.Errorf("fs: %s is not a directory", dir)
		}
		return nil, nil
	}
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || d == filepath.Dir(d) {
			break
		}
		missing = append(missing, d)
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, err
	}
	for i, j := 0, len(missing)-1; i < j; i, j = i+1, j-1 {
		missing[i], missing[j] = missing[j], missing[i]
	}
	return missing, nil
}

// syncDirs fsyncs dir (where an entry was added or renamed) and the
// parent of each directory in created (where that directory's own entry
// was added).
func syncDirs(dir string, created []string) error {
	seen := map[string]bool{}
	todo := []string{dir}
	for _, c := range created {
		todo = append(todo, filepath.Dir(c))
	}
	var errs []error
	for _, d := range todo {
		if seen[d] {
			continue
		}
		seen[d] = true
		if err := syncDir(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// syncDir fsyncs a directory; a variable for tests to observe.
var syncDir = func(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fs: sync dir: %w", err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fs: sync dir %s: %w", dir, err)
	}
	return nil
}
