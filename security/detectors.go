package security

import "github.com/imagegate/imagegate/notify"

// The detectors' names: the detector label of the metric, the "detector"
// field of the log line and of the event's data.
const (
	PasswordSpraying   = "password_spraying"
	BruteForce         = "brute_force"
	TokenAddresses     = "token_many_addresses"
	RefusedPushes      = "refused_push_burst"
	RobotNewRepository = "robot_new_repository"
	VulnerableLayer    = "vulnerable_layer_pushed"
)

// Detectors lists every detector.
var Detectors = []string{PasswordSpraying, BruteForce, TokenAddresses, RefusedPushes, RobotNewRepository, VulnerableLayer}

// eventType is the webhook event type of each detector.
var eventType = map[string]notify.Type{
	PasswordSpraying:   notify.SecurityPasswordSpraying,
	BruteForce:         notify.SecurityBruteForce,
	TokenAddresses:     notify.SecurityTokenAddresses,
	RefusedPushes:      notify.SecurityRefusedPushes,
	RobotNewRepository: notify.SecurityRobotNewRepository,
	VulnerableLayer:    notify.SecurityVulnerableLayer,
}
