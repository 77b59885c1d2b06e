package scan

import (
	"fmt"
	"strings"
)

// Severity ranks a vulnerability. The zero value is SeverityUnknown and
// values are ordered, so policies compare them with < and >=. It marshals
// to and from its upper-case name ("HIGH").
type Severity uint8

// Severities from lowest to highest; Trivy and most feeds use these names.
const (
	SeverityUnknown Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"}

// Severities returns every severity from lowest to highest.
func Severities() []Severity {
	return []Severity{SeverityUnknown, SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}
}

// ParseSeverity parses a severity name, ignoring case and surrounding
// space. It fails for anything but the five names, including "".
func ParseSeverity(s string) (Severity, error) {
	name := strings.ToUpper(strings.TrimSpace(s))
	for i, n := range severityNames {
		if n == name {
			return Severity(i), nil
		}
	}
	return SeverityUnknown, fmt.Errorf("scan: unknown severity %q (want one of %s)",
		s, strings.Join(severityNames[:], ", "))
}

// String returns the upper-case name, or "Severity(n)" for an invalid value.
func (s Severity) String() string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return fmt.Sprintf("Severity(%d)", uint8(s))
}

// AtLeast reports whether s ranks min or higher.
func (s Severity) AtLeast(min Severity) bool { return s >= min }

// MarshalText implements encoding.TextMarshaler.
func (s Severity) MarshalText() ([]byte, error) {
	if int(s) >= len(severityNames) {
		return nil, fmt.Errorf("scan: invalid severity %d", uint8(s))
	}
	return []byte(severityNames[s]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseSeverity.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
