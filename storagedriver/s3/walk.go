package s3

import (
	"context"
	"errors"
	"path"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

// Walk calls f for every directory and object below from, depth first in
// key order, from one recursive ListObjectsV2 listing (no delimiter):
// directories are inferred from the keys, each reported before its
// contents. Key order is not the filesystem driver's order (by path
// component): '-' and '.' sort before '/', so "v1-rc/…" and "v1.0/…" come
// before "v1/…" — a caller that pages by comparing names with the last one
// it saw must sort them itself (internal/tagpage). f returning ErrSkipDir for a directory skips its contents;
// ErrFilledBuffer stops the walk without error. With a StartAfterHint the
// listing starts after that path. A missing from is an empty walk.
func (d *driver) Walk(ctx context.Context, from string, f storagedriver.WalkFn, options ...func(*storagedriver.WalkOptions)) error {
	var opts storagedriver.WalkOptions
	for _, o := range options {
		o(&opts)
	}
	in := &s3.ListObjectsV2Input{
		Bucket:  aws.String(d.cfg.Bucket),
		Prefix:  aws.String(d.dirKey(from)),
		MaxKeys: aws.Int32(listMax),
	}
	if opts.StartAfterHint != "" {
		in.StartAfter = aws.String(d.key(opts.StartAfterHint))
	}
	prevDir, skipDir := from, ""
	visit := func(fi storagedriver.FileInfo) (stop bool, err error) {
		if isSubpath(fi.Path(), skipDir) {
			return false, nil
		}
		switch err := f(fi); {
		case err == nil:
			return false, nil
		case errors.Is(err, storagedriver.ErrSkipDir):
			skipDir = fi.Path()
			return false, nil
		case errors.Is(err, storagedriver.ErrFilledBuffer):
			return true, nil
		default:
			return true, err
		}
	}
	pages := s3.NewListObjectsV2Paginator(d.client, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return d.pathError(from, err)
		}
		for _, o := range page.Contents {
			if d.internalKey(aws.ToString(o.Key)) {
				continue // the driver's own objects (tail.go)
			}
			filePath := d.pathOf(aws.ToString(o.Key))
			for _, dir := range directoryDiff(prevDir, filePath) {
				prevDir = dir
				if stop, err := visit(storagedriver.FileInfoInternal{FileInfoFields: storagedriver.FileInfoFields{
					Path: dir, IsDir: true,
				}}); stop {
					return err
				}
			}
			if strings.HasSuffix(filePath, "/") { // a "directory marker" object
				continue
			}
			if stop, err := visit(storagedriver.FileInfoInternal{FileInfoFields: storagedriver.FileInfoFields{
				Path:    filePath,
				Size:    aws.ToInt64(o.Size),
				ModTime: aws.ToTime(o.LastModified),
			}}); stop {
				return err
			}
		}
	}
	return nil
}

// directoryDiff returns the directories of current that are not ancestors
// of prev, outermost first: the directories a sorted walk enters between
// prev and current.
//
//	directoryDiff("/a/b", "/a/b/c/file")  // [/a/b/c]
//	directoryDiff("/a/b/x", "/a/c/d/file") // [/a/c /a/c/d]
func directoryDiff(prev, current string) []string {
	var dirs []string
	if prev == "" || current == "" {
		return nil
	}
	for parent := path.Dir(current); parent != "/" && parent != "." && parent != prev &&
		!strings.HasPrefix(prev+"/", parent+"/"); parent = path.Dir(parent) {
		dirs = append(dirs, parent)
	}
	slices.Reverse(dirs)
	return dirs
}

// isSubpath reports whether p is parent or below it ("" is no parent).
func isSubpath(p, parent string) bool {
	switch parent {
	case "":
		return false
	case p:
		return true
	case "/":
		return strings.HasPrefix(p, "/")
	}
	return strings.HasPrefix(p, parent+"/")
}
