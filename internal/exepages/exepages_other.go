//go:build !linux

package exepages

// AdviseRandom does nothing outside Linux.
func AdviseRandom() (Advised, error) { return Advised{}, nil }
