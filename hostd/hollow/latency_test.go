package hollow

import (
	"slices"
	"testing"
	"time"
)

func TestParseLatency(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want Latency
		ok   bool
	}{
		{"", Latency{}, true},
		{"2ms", Latency{P50: 2 * time.Millisecond}, true},
		{"2ms,20ms", Latency{P50: 2 * time.Millisecond, P99: 20 * time.Millisecond}, true},
		{"20ms,2ms", Latency{}, false},
		{"-1ms", Latency{}, false},
		{"fast", Latency{}, false},
	}
	for _, tc := range cases {
		got, err := ParseLatency(tc.in)
		if (err == nil) != tc.ok || tc.ok && got != tc.want {
			t.Errorf("ParseLatency(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// TestLatencyDraw: a fixed latency is that latency; a log-normal one has about the
// median and 99th percentile it was given.
func TestLatencyDraw(t *testing.T) {
	t.Parallel()
	if d := (Latency{P50: time.Millisecond}).draw(); d != time.Millisecond {
		t.Fatalf("fixed latency drew %s", d)
	}
	l := Latency{P50: time.Millisecond, P99: 10 * time.Millisecond}
	draws := make([]time.Duration, 20000)
	for i := range draws {
		draws[i] = l.draw()
	}
	slices.Sort(draws)
	p50, p99 := draws[len(draws)/2], draws[len(draws)*99/100]
	if p50 < 900*time.Microsecond || p50 > 1100*time.Microsecond || p99 < 8*time.Millisecond || p99 > 12*time.Millisecond {
		t.Fatalf("drew p50 %s and p99 %s, want about %s and %s", p50, p99, l.P50, l.P99)
	}
}
