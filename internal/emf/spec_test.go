package emf

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// cloudWatchUnits are the units the EMF specification accepts in a
// MetricDefinition (CloudWatch's StandardUnit).
var cloudWatchUnits = []string{"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes",
	"Gigabytes", "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
	"Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
	"Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second",
	"Count/Second", "None"}

// validateEMF checks doc against AWS's "Specification: Embedded metric
// format": the root is a JSON object with an _aws object holding an
// integer Timestamp and a non-empty CloudWatchMetrics array and nothing
// else; each MetricDirective has exactly Namespace (1–255 characters, not
// blank), Dimensions (an array of DimensionSets, each an array of at most
// 30 — here MaxDimensions — keys naming root members whose values are
// non-empty strings of at most 1024 characters) and Metrics (at most 100
// MetricDefinitions: Name, 1–255 characters, naming a root member that is
// a number or an array of at most 100 numbers; Unit, when present, a
// CloudWatch unit; StorageResolution, when present, 1 or 60; nothing else;
// or a distribution, validateDistribution);
// the document is at most MaxDocumentBytes.
func validateEMF(doc []byte) error {
	if len(doc) > MaxDocumentBytes {
		return fmt.Errorf("%d bytes", len(doc))
	}
	var root map[string]json.RawMessage
	if err := json.Unmarshal(doc, &root); err != nil {
		return fmt.Errorf("root is not a JSON object: %w", err)
	}
	var meta map[string]json.RawMessage
	if err := json.Unmarshal(root["_aws"], &meta); err != nil {
		return fmt.Errorf("_aws is not an object: %w", err)
	}
	if err := onlyKeys(meta, "Timestamp", "CloudWatchMetrics"); err != nil {
		return fmt.Errorf("_aws: %w", err)
	}
	if _, err := strconv.ParseInt(string(meta["Timestamp"]), 10, 64); err != nil {
		return fmt.Errorf("_aws.Timestamp %s is not a number of milliseconds", meta["Timestamp"])
	}
	var directives []map[string]json.RawMessage
	if err := json.Unmarshal(meta["CloudWatchMetrics"], &directives); err != nil || len(directives) == 0 {
		return fmt.Errorf("_aws.CloudWatchMetrics is not a non-empty array of objects (%v)", err)
	}
	for i, d := range directives {
		if err := validateDirective(root, d); err != nil {
			return fmt.Errorf("CloudWatchMetrics[%d]: %w", i, err)
		}
	}
	return nil
}

func validateDirective(root map[string]json.RawMessage, d map[string]json.RawMessage) error {
	if err := onlyKeys(d, "Namespace", "Dimensions", "Metrics"); err != nil {
		return err
	}
	var ns string
	if err := json.Unmarshal(d["Namespace"], &ns); err != nil || len(ns) < 1 || len(ns) > 255 || strings.TrimSpace(ns) == "" {
		return fmt.Errorf("Namespace %q", ns)
	}
	var sets [][]string
	if err := json.Unmarshal(d["Dimensions"], &sets); err != nil {
		return fmt.Errorf("Dimensions is not an array of string arrays: %w", err)
	}
	for _, set := range sets {
		if len(set) > MaxDimensions {
			return fmt.Errorf("a DimensionSet of %d keys", len(set))
		}
		for _, k := range set {
			var v string
			if err := json.Unmarshal(root[k], &v); err != nil || strings.TrimSpace(v) == "" || len(v) > MaxDimensionValue {
				return fmt.Errorf("dimension %s: root member %s is not a non-empty string ≤ 1024", k, root[k])
			}
		}
	}
	var defs []map[string]json.RawMessage
	if err := json.Unmarshal(d["Metrics"], &defs); err != nil || len(defs) == 0 || len(defs) > MaxMetricsPerDirective {
		return fmt.Errorf("Metrics: %d definitions (%v)", len(defs), err)
	}
	for _, def := range defs {
		if err := onlyKeys(def, "Name", "Unit", "StorageResolution"); err != nil {
			return err
		}
		var name, unit string
		if err := json.Unmarshal(def["Name"], &name); err != nil || len(name) < 1 || len(name) > MaxNameLength {
			return fmt.Errorf("metric Name %s", def["Name"])
		}
		if u, ok := def["Unit"]; ok {
			if err := json.Unmarshal(u, &unit); err != nil || !slices.Contains(cloudWatchUnits, unit) {
				return fmt.Errorf("metric %s: Unit %s", name, u)
			}
		}
		if r, ok := def["StorageResolution"]; ok && string(r) != "1" && string(r) != "60" {
			return fmt.Errorf("metric %s: StorageResolution %s", name, r)
		}
		var one float64
		var many []float64
		if json.Unmarshal(root[name], &one) != nil && json.Unmarshal(root[name], &many) != nil {
			if err := validateDistribution(root[name]); err != nil {
				return fmt.Errorf("metric %s: root member %s is not a number, ≤ 100 numbers or a distribution: %w", name, root[name], err)
			}
		}
		if len(many) > 100 {
			return fmt.Errorf("metric %s: %d numbers", name, len(many))
		}
	}
	return nil
}

// validateDistribution checks a distribution value (CloudWatch's Values
// and Counts with the statistic set, as the CloudWatch agent's EMF
// exporter writes them): exactly Values, Counts, Count, Sum, Min, Max;
// 1–100 Values, as many Counts, all positive; Count their total; Min ≤
// every value ≤ Max.
func validateDistribution(raw json.RawMessage) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return err
	}
	if err := onlyKeys(obj, "Values", "Counts", "Count", "Sum", "Min", "Max"); err != nil {
		return err
	}
	var d distribution
	if err := json.Unmarshal(raw, &d); err != nil {
		return err
	}
	if len(d.Values) == 0 || len(d.Values) > 100 || len(d.Counts) != len(d.Values) {
		return fmt.Errorf("%d Values, %d Counts", len(d.Values), len(d.Counts))
	}
	total := 0.0
	for i, v := range d.Values {
		if d.Counts[i] <= 0 || v < d.Min || v > d.Max {
			return fmt.Errorf("value %v (count %v) outside [%v, %v] or not counted", v, d.Counts[i], d.Min, d.Max)
		}
		total += d.Counts[i]
	}
	if total != d.Count {
		return fmt.Errorf("Counts add up to %v, Count is %v", total, d.Count)
	}
	return nil
}

// onlyKeys fails when obj has a member other than allowed, or lacks one of
// the required (all allowed but Unit and StorageResolution).
func onlyKeys(obj map[string]json.RawMessage, allowed ...string) error {
	for k := range obj {
		if !slices.Contains(allowed, k) {
			return fmt.Errorf("unexpected member %q", k)
		}
	}
	for _, k := range allowed {
		if _, ok := obj[k]; !ok && k != "Unit" && k != "StorageResolution" {
			return fmt.Errorf("missing member %q", k)
		}
	}
	return nil
}
