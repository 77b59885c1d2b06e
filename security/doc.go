// Package security detects suspicious activity in process and reports
// each incident three ways: one WARN audit log line (event
// "security.<detector>"), one count of
// imagegate_security_detections_total{detector}, and one security.*
// webhook event through the notifier.
//
// The detectors (docs/security.md, "Suspicious activity", states each
// rule and its configuration keys):
//
//   - password_spraying: one client address fails logins for many
//     distinct usernames within a window;
//   - brute_force: many failed logins for one username, from any address;
//   - token_many_addresses: one access token (jti) or refresh chain used
//     from many distinct client addresses;
//   - refused_push_burst: many pushes of one identity refused by the gate;
//   - robot_new_repository: a robot pulls a repository it never pulled
//     before, once its learning period is over;
//   - vulnerable_layer_pushed: a push carries a layer that an enforce
//     policy refused as vulnerable in another repository.
//
// A Monitor takes events through the small interfaces the auth and push
// packages declare (auth.Watcher, push.Watcher), so that neither depends
// on this package or on notify. Detection never blocks or fails a
// request: an event is a non-blocking send to a bounded queue (dropped and
// counted when full), and workers do the counting in the fleet store —
// shared by the replicas, so every count is fleet-wide and, since the
// state moves by compare-and-swap, exactly one replica raises an incident.
// After an alert a key stays silent for its cooldown: one incident, one
// alert. Store errors are logged (at most once a minute) and counted.
package security
