package notify

import (
	"context"
	"time"
)

// The security event types: suspicious activity that package security
// detected. Each incident produces one event (a detector's cooldown
// silences the rest); docs/security.md states each detector's rule.
const (
	// SecurityPasswordSpraying: one client address failed logins for many
	// distinct usernames.
	SecurityPasswordSpraying Type = TypePrefix + "security.password_spraying"
	// SecurityBruteForce: many failed logins for one username, from any
	// address.
	SecurityBruteForce Type = TypePrefix + "security.brute_force"
	// SecurityTokenAddresses: one access token or refresh chain was used
	// from many distinct client addresses.
	SecurityTokenAddresses Type = TypePrefix + "security.token_many_addresses"
	// SecurityRefusedPushes: many pushes of one identity were refused by
	// the gate.
	SecurityRefusedPushes Type = TypePrefix + "security.refused_push_burst"
	// SecurityRobotNewRepository: a robot pulled a repository it never
	// pulled before, after its learning period.
	SecurityRobotNewRepository Type = TypePrefix + "security.robot_new_repository"
	// SecurityVulnerableLayer: a push carried a layer for which a push to
	// another repository was refused as vulnerable.
	SecurityVulnerableLayer Type = TypePrefix + "security.vulnerable_layer_pushed"
)

// SecurityTypes lists the security event types (part of Types).
var SecurityTypes = []Type{SecurityPasswordSpraying, SecurityBruteForce, SecurityTokenAddresses,
	SecurityRefusedPushes, SecurityRobotNewRepository, SecurityVulnerableLayer}

// Security is what a security event adds to Data: the detector, what it
// counted, and against which threshold. Fields that do not apply to a
// detector are omitted.
type Security struct {
	// Detector is the detector's name: the event type's short name
	// without "security." (password_spraying, brute_force, …).
	Detector string `json:"detector"`
	// ClientIP is the client address the incident is about (spraying;
	// the last address of the other detectors).
	ClientIP string `json:"client_ip,omitempty"`
	// Count is what reached the threshold: distinct usernames or
	// addresses, failures, refusals; 1 for a single sighting.
	Count     int `json:"count"`
	Threshold int `json:"threshold,omitempty"`
	// WindowSeconds is the sliding window Count fell within.
	WindowSeconds int64 `json:"window_seconds,omitempty"`
	// Since is the oldest event counted.
	Since time.Time `json:"since"`
	// CooldownSeconds is how long the detector now stays silent for the
	// same key.
	CooldownSeconds int64 `json:"cooldown_seconds"`
	// Token names the token: "jti:<id>" or "chain:<id>" (ids, never the
	// token itself).
	Token string `json:"token,omitempty"`
	// Addresses are the distinct client addresses seen (token) or a sample
	// of them (brute force), at most 20.
	Addresses []string `json:"addresses,omitempty"`
	// Layers are the refused layer digests the push carried.
	Layers []string `json:"layers,omitempty"`
	// RefusedIn is the repository where those layers were refused.
	RefusedIn string `json:"refused_in,omitempty"`
}

// SecurityAlert is one detected incident, as package security reports it.
type SecurityAlert struct {
	// Type is one of SecurityTypes.
	Type Type
	// Subject is the CloudEvents subject: what the incident is about
	// ("client/203.0.113.7", "user/alice", "token/jti:…", a repository).
	Subject string
	// At is when it was detected.
	At time.Time
	// Repository, when set, is matched by endpoints' repository filters;
	// an event without one reaches only endpoints without such filters.
	Repository string
	// User is the identity involved, when known.
	User      *User
	RequestID string
	// Reason is one sentence for people.
	Reason   string
	Security Security
}

// Security emits a security event. Like every Publisher method it never
// blocks on a receiver and is a no-op on a nil *Notifier.
func (n *Notifier) Security(ctx context.Context, a SecurityAlert) {
	if n == nil || n.box == nil {
		return
	}
	sec := a.Security
	d := Data{Repository: a.Repository, User: a.User, RequestID: a.RequestID, Reason: a.Reason, Security: &sec}
	n.emit(ctx, a.Type, a.Subject, a.At, d)
}
