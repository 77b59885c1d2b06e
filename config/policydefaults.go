package config

// DefaultOnError is what a scan policy does with a scan that fails or
// times out when its onerror is left out, by mode:
//
//   - enforce: reject. An enforce policy promises that nothing with
//     findings at or above its severity is stored; an image whose scan
//     failed may have them, so it is refused (503, retry later) — failing
//     closed, like metadata.failmode's default.
//   - audit: accept. An audit policy never blocks a push by design; it
//     records the failed scan (verdict "scan-failed-accepted") instead.
//   - off: accept. Nothing is scanned, so the value is never used; it is
//     not required.
var DefaultOnError = map[string]string{"enforce": "reject", "audit": "accept", "off": "accept"}

// fillDefaults sets the defaults that depend on other keys: each scan
// policy's onerror, from its mode (DefaultOnError). Unknown modes are left
// for Validate to report.
func (c *Config) fillDefaults() {
	for i := range c.Scan.Policies {
		p := &c.Scan.Policies[i]
		if d, ok := DefaultOnError[p.Mode]; ok && p.OnError == "" {
			p.OnError = d
		}
	}
}
