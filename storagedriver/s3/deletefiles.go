package s3

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

// FileDeleter is what DeleteFiles offers beyond storagedriver.StorageDriver;
// garbage collection reaches it with a type assertion on the driver the
// registry builds (*Driver).
type FileDeleter interface {
	DeleteFiles(ctx context.Context, paths []string) error
}

var (
	_ FileDeleter = (*Driver)(nil)
	_ FileDeleter = (*driver)(nil)
)

// DeleteFiles deletes exactly the objects at paths (storage-driver paths,
// as Stat takes them): files, never prefixes — nothing is listed and
// nothing below a path is touched. See driver.DeleteFiles.
func (d *Driver) DeleteFiles(ctx context.Context, paths []string) error {
	inner, ok := d.StorageDriver.(*driver)
	if !ok {
		return fmt.Errorf("s3: DeleteFiles: unexpected inner driver %T", d.StorageDriver)
	}
	for _, p := range paths {
		if !storagedriver.PathRegexp.MatchString(p) {
			return storagedriver.InvalidPathError{Path: p, DriverName: DriverName}
		}
	}
	return inner.DeleteFiles(ctx, paths)
}

// DeleteFiles deletes the objects at paths in DeleteObjects requests of at
// most listMax (1,000) keys, in order; a path listed twice is deleted once.
// An absent object is not an error (S3 reports a delete of a missing key
// as deleted). Objects S3 refuses to delete are reported together after
// every batch was tried, each a *DeleteError with its path, code and
// message (errors.As finds them); a failed request ends the deletion with an error
// naming how many paths were deleted before it.
func (d *driver) DeleteFiles(ctx context.Context, paths []string) error {
	seen := make(map[string]struct{}, len(paths))
	keys := make([]types.ObjectIdentifier, 0, min(len(paths), listMax))
	var refused []error
	done := 0
	send := func() error {
		if len(keys) == 0 {
			return nil
		}
		errs, err := d.deleteKeys(ctx, keys)
		if err != nil {
			return fmt.Errorf("s3: deleting %d files (%d deleted before): %w", len(keys), done, err)
		}
		refused = append(refused, errs...)
		done += len(keys) - len(errs)
		keys = keys[:0]
		return nil
	}
	for _, p := range paths {
		if _, dup := seen[p]; dup {
			continue
		}
		seen[p] = struct{}{}
		keys = append(keys, types.ObjectIdentifier{Key: aws.String(d.key(p))})
		if len(keys) == listMax {
			if err := send(); err != nil {
				return err
			}
		}
	}
	if err := send(); err != nil {
		return err
	}
	if len(refused) > 0 {
		return fmt.Errorf("s3: %d of %d files not deleted: %w", len(refused), len(seen), errors.Join(refused...))
	}
	return nil
}

// deleteKeys sends one quiet DeleteObjects request and returns the errors
// S3 reported per key, each naming the storage-driver path. NoSuchKey is
// not an error (some stores report it for an absent key).
func (d *driver) deleteKeys(ctx context.Context, keys []types.ObjectIdentifier) ([]error, error) {
	out, err := d.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: aws.String(d.cfg.Bucket),
		Delete: &types.Delete{Objects: keys, Quiet: aws.Bool(true)},
	})
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, e := range out.Errors {
		if aws.ToString(e.Code) == "NoSuchKey" {
			continue
		}
		errs = append(errs, &DeleteError{Path: d.pathOf(aws.ToString(e.Key)), Code: aws.ToString(e.Code), Message: aws.ToString(e.Message)})
	}
	return errs, nil
}

// DeleteError is one object S3 refused to delete.
type DeleteError struct {
	Path, Code, Message string
}

func (e *DeleteError) Error() string {
	return fmt.Sprintf("delete %s: %s: %s", e.Path, e.Code, e.Message)
}
