package config

import (
	"github.com/distribution/distribution/v3/configuration"
)

// Distribution returns distribution's configuration for the registry core.
// Only what the embedded App reads is set: imagegate runs its own HTTP
// server, logging and health checks. secret is the upload-state secret in
// force (http.secret, or the one generated at start-up).
func (c *Config) Distribution(secret string) *configuration.Configuration {
	storage := configuration.Storage{
		c.StorageDriverName(): c.StorageParameters(),
		"delete":              configuration.Parameters{"enabled": c.Storage.Delete},
		"redirect":            configuration.Parameters{"disable": !c.Storage.Redirect},
		"maintenance": configuration.Parameters{
			"uploadpurging": map[any]any{
				"enabled":  c.Storage.UploadPurging.Enabled,
				"age":      c.Storage.UploadPurging.Age.String(),
				"interval": c.Storage.UploadPurging.Interval.String(),
				"dryrun":   c.Storage.UploadPurging.DryRun,
			},
		},
	}
	d := &configuration.Configuration{Storage: storage}
	d.HTTP.Host = c.HTTP.Host
	d.HTTP.Secret = secret
	d.HTTP.Headers = map[string][]string{"X-Content-Type-Options": {"nosniff"}}
	// Defaults distribution applies only when it parses its own YAML.
	d.Catalog.MaxEntries = maxCatalogEntries
	d.Tags.MaxTags = maxTagsPage
	d.Validation.Enabled = true
	d.Validation.Manifests.Indexes.Platforms = "all"
	if c.Validation.ForeignLayers { // else distribution allows no layer URL at all
		d.Validation.Manifests.URLs.Allow = []string{ForeignLayerURLs}
	}
	return d
}

// ForeignLayerURLs is the pattern a foreign layer's URLs must match when
// validation.foreignlayers allows them.
const ForeignLayerURLs = `^https?://`

// Page limits of the catalog and tag lists (distribution's defaults).
const (
	maxCatalogEntries = 1000
	maxTagsPage       = 1000
)

// StorageDriverName is the name, in distribution's driver factory, of the
// configured storage driver: storage.driver, except that the filesystem
// driver is imagegate's (FilesystemDriverImagegate, storagedriver/fs)
// unless storage.filesystem.writer is distribution.
func (c *Config) StorageDriverName() string {
	if c.Storage.Driver == "filesystem" && c.Storage.Filesystem.Writer != FilesystemWriterDistribution {
		return FilesystemDriverImagegate
	}
	return c.Storage.Driver
}

// FilesystemDriverImagegate is the factory name storagedriver/fs registers.
const FilesystemDriverImagegate = "imagegate-filesystem"

// StorageParameters returns the parameters of the configured storage driver,
// as distribution's driver factory expects them.
func (c *Config) StorageParameters() configuration.Parameters {
	switch c.Storage.Driver {
	case "filesystem":
		return configuration.Parameters{"rootdirectory": c.Storage.Filesystem.RootDirectory}
	case "s3":
		s := c.Storage.S3
		p := configuration.Parameters{
			"bucket": s.Bucket, "forcepathstyle": s.ForcePathStyle, "encrypt": s.Encrypt, "bucketkey": s.BucketKey,
			"chunksize": s.ChunkSize, "checksum": s.Checksum, "maxattempts": s.MaxAttempts,
		}
		for k, v := range map[string]string{"region": s.Region, "regionendpoint": s.RegionEndpoint,
			"rootdirectory": s.RootDirectory, "keyid": s.KeyID, "storageclass": s.StorageClass,
			"accesskey": s.AccessKey.Reveal(), "secretkey": s.SecretKey.Reveal()} {
			if v != "" {
				p[k] = v
			}
		}
		return p
	default:
		return configuration.Parameters{}
	}
}
