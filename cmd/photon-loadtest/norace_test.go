//go:build !race

package main

// costSmokeVMs is TestCostSmoke's burst (see race_test.go).
const costSmokeVMs = 2000
