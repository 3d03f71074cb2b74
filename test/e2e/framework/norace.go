//go:build !race

package framework

// raceEnabled: this test binary runs with the race detector.
const raceEnabled = false
