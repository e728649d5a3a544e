//go:build !race

package hstspolicy

// raceEnabled is set under -race, whose instrumentation allocates.
const raceEnabled = false
