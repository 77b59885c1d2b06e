package config

import "time"

// Auth configures authentication (the Docker token flow) and role-based
// authorization. Off by default: the registry is then open to anyone who
// can reach http.addr.
type Auth struct {
	Enabled bool `yaml:"enabled"`
	// Realm is the token endpoint URL in challenges; empty: this server's
	// /auth/token as each request reached it.
	Realm string `yaml:"realm"`
	// Service names this registry in tokens (their audience).
	Service string `yaml:"service"`
	// Issuer names the token issuer.
	Issuer string `yaml:"issuer"`
	// TokenTTL is the lifetime of access tokens.
	TokenTTL time.Duration `yaml:"tokenttl"`
	// RefreshTTL is the lifetime of refresh (identity) tokens.
	RefreshTTL time.Duration `yaml:"refreshttl"`
	// RefreshMaxLifetime is the absolute lifetime of a refresh chain: a
	// login and every refresh token rotated from it. Past it, log in again.
	RefreshMaxLifetime time.Duration `yaml:"refreshmaxlifetime"`
	// TrustedProxies are the CIDRs (or addresses) of proxies whose
	// X-Forwarded-For names the client, for lockout and audit; empty: the
	// TCP peer is the client and X-Forwarded-For is ignored.
	TrustedProxies []string `yaml:"trustedproxies"`
	// SigningKey is the PEM private key file tokens are signed with
	// (created, EC P-256, when missing — except on S3 storage without
	// SingleNode, where it must exist: replicas must share it).
	SigningKey string `yaml:"signingkey"`
	// VerificationKeys are PEM public keys of previous signing keys, still
	// accepted during a rotation.
	VerificationKeys []string `yaml:"verificationkeys"`
	// Htpasswd is a file of users with bcrypt hashes (htpasswd -B).
	Htpasswd string `yaml:"htpasswd"`
	// Roles adds or redefines roles: name → actions (pull, push, delete).
	// Built in: admin, maintainer (pull, push, delete), developer, ci
	// (pull, push), reader (pull).
	Roles map[string][]string `yaml:"roles"`
	// Bindings give subjects roles on repository patterns.
	Bindings []AuthBinding `yaml:"bindings"`
	// PersonalNamespace gives every htpasswd user pull, push and delete on
	// {username}/**, except on top-level namespaces bindings or
	// AnonymousPull name literally (team namespaces).
	PersonalNamespace bool `yaml:"personalnamespace"`
	// AnonymousPull lists repository patterns anyone may pull without logging in.
	AnonymousPull []string `yaml:"anonymouspull"`
	// Lockout slows down password guessing.
	Lockout Lockout `yaml:"lockout"`
	// OIDC trusts ID tokens of these issuers as passwords (docker login)
	// and as bearer tokens on the API: CI federation, see docs/oidc.md.
	OIDC []OIDCIssuer `yaml:"oidc"`
}

// OIDCIssuer trusts one issuer of OIDC ID tokens. See docs/oidc.md.
type OIDCIssuer struct {
	Issuer           string        `yaml:"issuer"`           // must equal the tokens' iss
	Audience         string        `yaml:"audience"`         // required in aud
	JWKSURL          string        `yaml:"jwksurl"`          // empty: discovered
	CAFile           string        `yaml:"cafile"`           // PEM CA for the issuer's TLS
	SubjectClaim     string        `yaml:"subjectclaim"`     // empty: sub
	UsernamePrefix   string        `yaml:"usernameprefix"`   // required, ends with ":"
	CacheTTL         time.Duration `yaml:"cachettl"`         // 0: 1h
	RefreshInterval  time.Duration `yaml:"refreshinterval"`  // 0: 30s
	MaxTokenLifetime time.Duration `yaml:"maxtokenlifetime"` // 0: 24h
	Rules            []OIDCRule    `yaml:"rules"`            // a token matching no rule is refused
	// SignIn lets people sign in to the web UI with this issuer; nil: no.
	SignIn *OIDCSignIn `yaml:"signin"`
}

// OIDCRule grants actions on repositories to tokens whose claims match.
type OIDCRule struct {
	Claim   string          `yaml:"claim"`
	Equals  string          `yaml:"equals"`
	Pattern string          `yaml:"pattern"`
	And     []OIDCCondition `yaml:"and"`
	// Role or Actions: what the rule grants.
	Role    string   `yaml:"role"`
	Actions []string `yaml:"actions"`
	// Repositories is a pattern; {claim:NAME} stands for a claim's value.
	Repositories string `yaml:"repositories"`
}

// OIDCCondition is one more claim a rule requires.
type OIDCCondition struct {
	Claim   string `yaml:"claim"`
	Equals  string `yaml:"equals"`
	Pattern string `yaml:"pattern"`
}

// AuthBinding gives subjects a role on repositories.
type AuthBinding struct {
	// Subjects are user, robot or OIDC subject names, or "*" for every
	// htpasswd user (robots and OIDC subjects must be named).
	Subjects []string `yaml:"subjects"`
	Role     string   `yaml:"role"`
	// Repositories are patterns; "{username}" stands for the subject.
	Repositories []string `yaml:"repositories"`
}

// Lockout configures the lockout after failed logins: per (user, client
// address) after MaxFailures, per client address after MaxPerAddress.
type Lockout struct {
	MaxFailures int `yaml:"maxfailures"`
	// MaxPerAddress is the failures one address may have over all users.
	MaxPerAddress int `yaml:"maxperaddress"`
	// MaxEntries bounds the counters kept (least recently used evicted).
	MaxEntries int           `yaml:"maxentries"`
	Window     time.Duration `yaml:"window"`
	Base       time.Duration `yaml:"base"`
	Max        time.Duration `yaml:"max"`
}
