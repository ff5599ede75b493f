package loadtest

import (
	"math"
	"strings"
	"testing"
)

// TestChurnResult: the spread is taken over the cycles after the retentions filled.
func TestChurnResult(t *testing.T) {
	cases := []struct {
		name          string
		mem, keys     []int64
		settle        int
		wantMem, want float64 // spreads
		wantTrend     float64 // of the keys
	}{
		{"flat after filling", []int64{10, 20, 20, 21}, []int64{100, 200, 200, 200}, 1, 5, 0, 0},
		{"growing", []int64{10, 20, 30, 40}, []int64{100, 200, 300, 400}, 1, 100, 100, 100.0 / 3},
		{"settle past the end", []int64{10}, []int64{100}, 5, 0, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ss []Sample
			for i := range tc.mem {
				ss = append(ss, Sample{Cycle: i + 1, UsedMemory: tc.mem[i] << 20, Keys: tc.keys[i]})
			}
			r := ChurnResult{Samples: ss}
			r.summarise(tc.settle)
			if r.MemSpread != tc.wantMem || r.KeySpread != tc.want || math.Abs(r.KeyTrend-tc.wantTrend) > 1e-9 {
				t.Fatalf("spread: memory %.1f%%, keys %.1f%%, keys' trend %.2f%%; want %.1f%%, %.1f%%, %.2f%%",
					r.MemSpread, r.KeySpread, r.KeyTrend, tc.wantMem, tc.want, tc.wantTrend)
			}
			if line := r.ResultLine(); !strings.HasPrefix(line, "RESULT churn cycles=") {
				t.Fatalf("result line %q", line)
			}
		})
	}
}
