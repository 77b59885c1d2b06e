//go:build !race

package ingest

// raceEnabled: built with -race, whose detector sees only Go's memory.
const raceEnabled = false
