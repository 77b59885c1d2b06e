package config

import (
	"errors"
	"os"
)

// Replicated reports whether this configuration may run as several
// replicas of one registry: its storage is S3 (blobs every replica sees)
// and singlenode does not say this server is the only one. Filesystem
// and inmemory storage are always a single node.
//
// Replicated configurations must give every replica the same http.secret,
// the same token signing key and one metadata store; Validate refuses them
// otherwise (see validateReplicas).
func (c *Config) Replicated() bool {
	return c.Storage.Driver == "s3" && !c.SingleNode
}

// SharedMetadata reports whether metadata.driver is a database every
// replica reaches (dynamodb, postgres, mysql): the one that also holds
// the replicas' shared state (locks, leases, counters, outboxes).
func (c *Config) SharedMetadata() bool {
	switch c.Metadata.Driver {
	case "dynamodb", "postgres", "mysql":
		return true
	}
	return false
}

// GenerateSigningKey is the command that makes a token signing key
// imagegate reads (EC P-256, PKCS #8 PEM).
const GenerateSigningKey = "openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out signing-key.pem"

// orSingleNode ends every refusal of a replicated configuration.
const orSingleNode = "; or, if this server is the only replica, set singlenode: true"

// validateReplicas refuses a replicated configuration that would give
// each replica state of its own where replicas must agree:
//   - http.secret empty: each process would sign upload state with a
//     random secret, so a blob upload whose PATCH or PUT reaches another
//     replica fails;
//   - auth on and auth.signingkey missing: each replica would create its
//     own key, and tokens one issues would be refused by the others;
//   - metadata.driver bolt: each replica would keep its own records, so
//     an index pushed through one would be refused for children accepted
//     by another, and the push history would be split.
//
// The signing key file is looked for on disk, as auth.htpasswd is: a
// configuration names files the server must be able to read.
func (c *Config) validateReplicas(bad func(key, format string, args ...any)) {
	if !c.Replicated() {
		return
	}
	if c.HTTP.Secret == "" {
		bad("http.secret", "must be set when storage.driver is s3: replicas behind one load balancer share the upload state it signs, "+
			"and a random secret per process fails uploads whose requests reach another replica; "+
			"set the same value (32+ characters, e.g. from `openssl rand -base64 48`) on every replica"+orSingleNode)
	}
	if a := c.Auth; a.Enabled && a.SigningKey != "" {
		if _, err := os.Stat(a.SigningKey); errors.Is(err, os.ErrNotExist) {
			bad("auth.signingkey", "%q does not exist; with storage.driver s3 each replica would create its own key "+
				"and refuse the tokens the others issue: generate one with `%s` and mount the same file on every replica "+
				"(a Kubernetes secret, say)"+orSingleNode, a.SigningKey, GenerateSigningKey)
		} else if err != nil {
			bad("auth.signingkey", "cannot read %q: %v", a.SigningKey, errors.Unwrap(err))
		}
	}
	if c.Metadata.Driver == "bolt" {
		bad("metadata.driver", "bolt keeps push records in a file on each replica's disk; with storage.driver s3 every replica "+
			"would have its own records (an index pushed through one is refused for children accepted by another): "+
			"use metadata.driver: dynamodb, postgres or mysql"+orSingleNode)
	}
}
