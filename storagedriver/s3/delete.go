package s3

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

// Delete removes the object at p and every object below p/ (not p's
// siblings such as p-suffix), listing with ListObjectsV2 and deleting in
// DeleteObjects batches of up to 1,000 keys, and aborts the multipart
// uploads in progress there (writers never committed, e.g. purged
// registry uploads). Nothing to delete is PathNotFoundError.
func (d *driver) Delete(ctx context.Context, p string) error {
	key := d.key(p)
	batch := make([]types.ObjectIdentifier, 0, listMax)
	found := false
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		found = true
		err := d.deleteBatch(ctx, batch)
		batch = batch[:0]
		return err
	}

	// The object at p itself: the first key of a listing by its name.
	exact, err := d.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket:  aws.String(d.cfg.Bucket),
		Prefix:  aws.String(key),
		MaxKeys: aws.Int32(1),
	})
	if err != nil {
		return err
	}
	if len(exact.Contents) == 1 && aws.ToString(exact.Contents[0].Key) == key {
		batch = append(batch, types.ObjectIdentifier{Key: aws.String(key)})
	}

	// Everything below p/, noting the directories it implies.
	dirs := map[string]struct{}{key + "/": {}}
	pages := s3.NewListObjectsV2Paginator(d.client, &s3.ListObjectsV2Input{
		Bucket:  aws.String(d.cfg.Bucket),
		Prefix:  aws.String(key + "/"),
		MaxKeys: aws.Int32(listMax),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			for i := strings.LastIndexByte(k, '/'); i > len(key); i = strings.LastIndexByte(k[:i], '/') {
				dirs[k[:i+1]] = struct{}{}
			}
			batch = append(batch, types.ObjectIdentifier{Key: o.Key})
			if len(batch) == listMax {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	// Directories: those the deleted keys imply, then those a delimited
	// listing still shows below p (see deleteDirectoryMarkers), in a few
	// rounds as such stores may still be busy with the previous deletes,
	// and p's own ("key/", even when nothing else was found: an emptied
	// directory lists no children).
	d.deleteDirectoryMarkers(ctx, dirs)
	for round := range 3 {
		empty, err := d.listedDirectories(ctx, key+"/")
		if err != nil {
			return err
		}
		if len(empty) == 0 {
			break
		}
		found = true
		d.deleteDirectoryMarkers(ctx, toSet(empty))
		time.Sleep(time.Duration(round+1) * 50 * time.Millisecond)
	}
	aborted, err := d.abortUploadsBelow(ctx, key)
	if err != nil {
		return err
	}
	if !found && aborted == 0 {
		return storagedriver.PathNotFoundError{Path: p, DriverName: DriverName}
	}
	return nil
}

// deleteBatch deletes up to 1,000 keys, failing with the per-key errors S3
// reports.
func (d *driver) deleteBatch(ctx context.Context, keys []types.ObjectIdentifier) error {
	out, err := d.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: aws.String(d.cfg.Bucket),
		Delete: &types.Delete{Objects: keys, Quiet: aws.Bool(true)},
	})
	if err != nil {
		return err
	}
	if len(out.Errors) == 0 {
		return nil
	}
	errs := make([]error, 0, len(out.Errors))
	for _, e := range out.Errors {
		errs = append(errs, fmt.Errorf("delete %s: %s: %s", aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message)))
	}
	return storagedriver.Errors{DriverName: DriverName, Errs: errs}
}

// abortUploadsBelow aborts the multipart uploads at key and below key/.
func (d *driver) abortUploadsBelow(ctx context.Context, key string) (int, error) {
	n := 0
	err := d.eachUpload(ctx, key, func(u types.MultipartUpload) error {
		k := aws.ToString(u.Key)
		if k != key && !strings.HasPrefix(k, key+"/") {
			return nil
		}
		if err := d.abortUpload(ctx, k, aws.ToString(u.UploadId)); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}

// eachUpload calls fn with every multipart upload in progress whose key
// starts with prefix, page by page, until fn or a listing fails.
func (d *driver) eachUpload(ctx context.Context, prefix string, fn func(types.MultipartUpload) error) error {
	pages := s3.NewListMultipartUploadsPaginator(d.client, &s3.ListMultipartUploadsInput{
		Bucket: aws.String(d.cfg.Bucket),
		Prefix: aws.String(prefix),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, u := range page.Uploads {
			if err := fn(u); err != nil {
				return err
			}
		}
	}
	return nil
}

// deleteDirectoryMarkers deletes, best effort and deepest first, the
// directory keys ("dir/") of a deleted tree. S3 lists real markers with the
// tree's objects, so they are gone already, and deleting absent keys is a
// no-op. Stores built on a file system (SeaweedFS) keep the emptied
// directories, list them as common prefixes (a deleted path would still
// appear in List), and remove them on such a delete.
func (d *driver) deleteDirectoryMarkers(ctx context.Context, dirs map[string]struct{}) {
	byDepth := map[int][]types.ObjectIdentifier{}
	maxDepth := 0
	for k := range dirs {
		depth := strings.Count(k, "/")
		byDepth[depth] = append(byDepth[depth], types.ObjectIdentifier{Key: aws.String(k)})
		maxDepth = max(maxDepth, depth)
	}
	// One level at a time: a store may delete a batch's keys concurrently,
	// and a directory goes only once its subdirectories are gone.
	for depth := maxDepth; depth > 0; depth-- {
		level := byDepth[depth]
		for start := 0; start < len(level); start += listMax {
			_ = d.deleteBatch(ctx, level[start:min(start+listMax, len(level))])
		}
	}
}

// listedDirectories returns prefix and the directories below it that a
// delimited listing shows although their objects are deleted: none on S3;
// emptied directories on stores built on a file system.
func (d *driver) listedDirectories(ctx context.Context, prefix string) ([]string, error) {
	var found []string
	queue := []string{prefix}
	for len(queue) > 0 {
		dir := queue[0]
		queue = queue[1:]
		pages := s3.NewListObjectsV2Paginator(d.client, &s3.ListObjectsV2Input{
			Bucket:    aws.String(d.cfg.Bucket),
			Prefix:    aws.String(dir),
			Delimiter: aws.String("/"),
			MaxKeys:   aws.Int32(listMax),
		})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return nil, err
			}
			for _, cp := range page.CommonPrefixes {
				found = append(found, aws.ToString(cp.Prefix))
				queue = append(queue, aws.ToString(cp.Prefix))
			}
		}
	}
	if len(found) > 0 {
		found = append(found, prefix)
	}
	return found, nil
}

func toSet(keys []string) map[string]struct{} {
	m := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		m[k] = struct{}{}
	}
	return m
}
