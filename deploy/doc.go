// Package deploy holds no Go code: its tests check what ships beside the
// binary for operators — the Prometheus rules (deploy/prometheus, with
// `promtool check rules` and `promtool test rules`) and the Grafana
// dashboard (deploy/grafana). docs/monitoring.md describes both.
package deploy
