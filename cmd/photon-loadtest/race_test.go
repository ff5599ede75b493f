//go:build race

package main

// costSmokeVMs is TestCostSmoke's burst: smaller under the race detector (make test),
// which makes the run several times slower, so that it stays within a minute.
const costSmokeVMs = 1000
