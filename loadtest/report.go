package loadtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"html"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Report is one load-test run: what was asked, what Photon did, and the raw govmomi
// baseline measured in the same run.
type Report struct {
	Started     time.Time      `json:"started"`
	Target      string         `json:"target"` // the API base URL
	API         string         `json:"api"`    // "rest" or "grpc"
	Wait        string         `json:"wait"`   // how calls learned their tasks ended: "events" or "poll"
	Mode        string         `json:"mode"`   // "single" (one create call per VM) or "bulk"
	Hosts       int            `json:"hosts"`  // simulated hosts, 0 if unknown
	VMs         int            `json:"vms"`
	Concurrency int            `json:"concurrency"`
	Rate        float64        `json:"rate,omitempty"` // VMs per minute asked for; 0: closed loop
	Photon      Result         `json:"photon"`
	Baseline    *Result        `json:"baseline,omitempty"`
	PeakRSS     uint64         `json:"peakRssBytes"`    // of this process, 0 if unknown
	Scale       map[string]int `json:"scale,omitempty"` // peak workers per function, if known
	Cost        *Cost          `json:"cost,omitempty"`  // CPU and Redis memory per VM, if measured
	Probe       *ProbeResult   `json:"-"`               // reads timed during the burst, if probed (probeDuring in JSON)
}

// Ratio is Photon's VMs per minute over the baseline's; 0 without a baseline.
func (r *Report) Ratio() float64 {
	if base := perMinute(r.Baseline); base > 0 {
		return perMinute(&r.Photon) / base
	}
	return 0
}

// perMinute is r.PerMinute, but 0 rather than NaN or +Inf when nothing was timed (and so
// safe for encoding/json, which refuses both).
func perMinute(r *Result) float64 {
	if r == nil || r.Elapsed <= 0 {
		return 0
	}
	return r.PerMinute()
}

// ResultLine is the report's machine-readable summary line. Fields are only ever added
// at its end: tools parse it.
func (r *Report) ResultLine() string {
	var cpu, mem *float64
	if r.Cost != nil {
		cpu, mem = r.Cost.CPUMsPerVM, r.Cost.RedisBytesPerVM
	}
	line := fmt.Sprintf("RESULT vms=%d seconds=%.2f vms_per_min=%.0f baseline_vms_per_min=%.0f ratio=%.2f p99_ms=%d errors=%d cpu_ms_per_vm=%s redis_bytes_per_vm=%s",
		r.Photon.VMs, r.Photon.Elapsed.Seconds(), perMinute(&r.Photon), perMinute(r.Baseline), r.Ratio(), r.Photon.P99.Milliseconds(), r.Photon.Errors,
		figure(cpu, 3), figure(mem, 0))
	if p := r.Probe; p != nil {
		line += fmt.Sprintf(" get_p99_ms=%.2f list_p99_ms=%.2f", ms(p.Get.P99), ms(p.List.P99))
	}
	return line
}

// figure is *v with prec decimals, "unknown" when nil.
func figure(v *float64, prec int) string {
	if v == nil {
		return "unknown"
	}
	return strconv.FormatFloat(*v, 'f', prec, 64)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

type percentilesJSON struct {
	N     int     `json:"n"`
	P50Ms float64 `json:"p50Ms"`
	P95Ms float64 `json:"p95Ms"`
	P99Ms float64 `json:"p99Ms"`
}

type resultJSON struct {
	VMs       int                        `json:"vms"`
	Errors    int                        `json:"errors"`
	Retries   int                        `json:"retries"`
	ElapsedMs float64                    `json:"elapsedMs"`
	VMsPerMin float64                    `json:"vmsPerMin"`
	P50Ms     float64                    `json:"p50Ms"`
	P95Ms     float64                    `json:"p95Ms"`
	P99Ms     float64                    `json:"p99Ms"`
	DoneMs    []float64                  `json:"doneMs"`
	Steps     map[string]percentilesJSON `json:"steps,omitempty"`
}

func resultOf(r *Result) *resultJSON {
	if r == nil {
		return nil
	}
	out := &resultJSON{VMs: r.VMs, Errors: r.Errors, Retries: r.Retries, ElapsedMs: ms(r.Elapsed), VMsPerMin: perMinute(r),
		P50Ms: ms(r.P50), P95Ms: ms(r.P95), P99Ms: ms(r.P99), DoneMs: make([]float64, len(r.Done))}
	for i, d := range r.Done {
		out.DoneMs[i] = ms(d)
	}
	if len(r.Steps) > 0 {
		out.Steps = map[string]percentilesJSON{}
		for k, p := range r.Steps {
			out.Steps[k] = percentilesJSON{p.N, ms(p.P50), ms(p.P95), ms(p.P99)}
		}
	}
	return out
}

type probeJSON struct {
	List percentilesJSON `json:"list"`
	Get  percentilesJSON `json:"get"`
}

func probeOf(p *ProbeResult) *probeJSON {
	if p == nil {
		return nil
	}
	pj := func(p Percentiles) percentilesJSON { return percentilesJSON{p.N, ms(p.P50), ms(p.P95), ms(p.P99)} }
	return &probeJSON{List: pj(p.List), Get: pj(p.Get)}
}

// MarshalJSON writes durations as milliseconds, with the ratio and the RESULT line. Its
// receiver is a value so that a Report marshals the same way whether or not it is addressable.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report // without the methods, so no recursion
	return json.Marshal(struct {
		*plain
		Photon   *resultJSON `json:"photon"`
		Baseline *resultJSON `json:"baseline,omitempty"`
		Ratio    float64     `json:"ratio"`
		Result   string      `json:"result"`
		Probe    *probeJSON  `json:"probeDuring,omitempty"`
	}{(*plain)(&r), resultOf(&r.Photon), resultOf(r.Baseline), r.Ratio(), r.ResultLine(), probeOf(r.Probe)})
}

// WriteFiles writes report.json and report.html (a summary with two charts: VMs
// completed over time, and latency per step) into dir.
func (r *Report) WriteFiles(dir string) (jsonPath, htmlPath string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", "", err
	}
	jsonPath, htmlPath = filepath.Join(dir, "report.json"), filepath.Join(dir, "report.html")
	if err := os.WriteFile(jsonPath, raw, 0o644); err != nil {
		return "", "", err
	}
	return jsonPath, htmlPath, os.WriteFile(htmlPath, []byte(r.html()), 0o644)
}

func (r *Report) html() string {
	var b strings.Builder
	e := html.EscapeString
	fmt.Fprintf(&b, "<!doctype html><html><head><meta charset=\"utf-8\"><title>Photon load test</title>"+
		"<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 10px;text-align:left}code{background:#eee}</style></head><body>"+
		"<h1>Photon load test, %s</h1><p><code>%s</code></p><table>", e(r.Started.Format(time.RFC3339)), e(r.ResultLine()))
	row := func(k, v string) { fmt.Fprintf(&b, "<tr><th>%s</th><td>%s</td></tr>", e(k), e(v)) }
	row("target", r.Target)
	row("API, mode", r.API+", "+r.Mode)
	row("hosts", strconv.Itoa(r.Hosts))
	row("VMs, concurrency", fmt.Sprintf("%d, %d", r.VMs, r.Concurrency))
	if r.Rate > 0 {
		row("paced at", fmt.Sprintf("%.0f VMs/min", r.Rate))
	}
	row("Photon", summary(&r.Photon))
	if r.Baseline != nil {
		row("raw govmomi baseline", summary(r.Baseline))
		row("ratio", fmt.Sprintf("%.2f", r.Ratio()))
	}
	row("retries after 429", strconv.Itoa(r.Photon.Retries))
	row("peak memory (RSS)", fmt.Sprintf("%.0f MB", float64(r.PeakRSS)/(1<<20)))
	if c := r.Cost; c != nil {
		row("CPU per VM (Photon and Redis)", figure(c.CPUMsPerVM, 3)+" ms")
		for _, p := range c.partOrder() {
			row("CPU per VM: "+p, fmt.Sprintf("%.3f ms", c.ByPart[p]))
		}
		for _, p := range slices.Sorted(maps.Keys(c.NotCounted)) {
			row("CPU per VM, not Photon's (not counted): "+p, fmt.Sprintf("%.3f ms", c.NotCounted[p]))
		}
		row("Redis memory per VM", figure(c.RedisBytesPerVM, 0)+" bytes")
	}
	names := slices.Sorted(maps.Keys(r.Scale))
	for _, n := range names {
		row("peak workers: "+n, strconv.Itoa(r.Scale[n]))
	}
	b.WriteString("</table><h2>VMs completed over time</h2>")
	b.WriteString(r.curveSVG())
	b.WriteString("<h2>Latency per step (p50, p95, p99)</h2>")
	b.WriteString(r.stepsSVG())
	b.WriteString("</body></html>\n")
	return b.String()
}

// summary is Result.String without its NaN for a result that timed nothing.
func summary(r *Result) string {
	return fmt.Sprintf("%d VMs, %d errors, %.2f s, %.0f VMs/min; p50 %d ms, p95 %d ms, p99 %d ms",
		r.VMs, r.Errors, r.Elapsed.Seconds(), perMinute(r), r.P50.Milliseconds(), r.P95.Milliseconds(), r.P99.Milliseconds())
}

const chartW, chartH, pad = 720.0, 300.0, 50.0

func (r *Report) curveSVG() string {
	series := []struct {
		name, color string
		res         *Result
	}{{"Photon", "#1f77b4", &r.Photon}, {"raw govmomi", "#ff7f0e", r.Baseline}}
	maxT, maxN := 1.0, 1.0
	for _, s := range series {
		if s.res != nil {
			maxT, maxN = max(maxT, s.res.Elapsed.Seconds()), max(maxN, float64(len(s.res.Done)))
			if n := len(s.res.Done); n > 0 {
				maxT = max(maxT, s.res.Done[n-1].Seconds())
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f">`, chartW+pad, chartH+pad)
	axes(&b, maxT, maxN, "s", "VMs")
	for i, s := range series {
		if s.res == nil {
			continue
		}
		pts := []string{fmt.Sprintf("%.1f,%.1f", pad, chartH)} // from the origin, so one VM still draws a line
		for n, d := range s.res.Done {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", pad+d.Seconds()/maxT*(chartW-pad), chartH-float64(n+1)/maxN*(chartH-pad)))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, s.color, strings.Join(pts, " "))
		fmt.Fprintf(&b, `<text x="%.0f" y="%d" fill="%s">%s</text>`, pad+10, 20+18*i, s.color, html.EscapeString(s.name))
	}
	b.WriteString("</svg>")
	return b.String()
}

func axes(b *strings.Builder, maxX, maxY float64, xUnit, yUnit string) {
	fmt.Fprintf(b, `<line x1="%[1]v" y1="%[2]v" x2="%[3]v" y2="%[2]v" stroke="black"/><line x1="%[1]v" y1="%[4]v" x2="%[1]v" y2="%[2]v" stroke="black"/>`,
		pad, chartH, chartW, pad/2)
	for i := 0; i <= 4; i++ {
		f := float64(i) / 4
		fmt.Fprintf(b, `<text x="%.0f" y="%.0f" font-size="11">%s %s</text>`, pad+f*(chartW-pad)-10, chartH+15, tick(f*maxX), xUnit)
		fmt.Fprintf(b, `<text x="2" y="%.0f" font-size="11">%s %s</text>`, chartH-f*(chartH-pad), tick(f*maxY), yUnit)
	}
}

// tick labels an axis: whole numbers from 10 up (never 1e+03), three digits below.
func tick(v float64) string {
	if v >= 10 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func (r *Report) stepsSVG() string {
	type bar struct {
		name string
		p    Percentiles
	}
	bars := []bar{{"end-to-end", Percentiles{N: len(r.Photon.Done), P50: r.Photon.P50, P95: r.Photon.P95, P99: r.Photon.P99}}}
	for _, k := range slices.Sorted(maps.Keys(r.Photon.Steps)) {
		bars = append(bars, bar{k, r.Photon.Steps[k]})
	}
	maxMs := 1.0
	for _, br := range bars {
		maxMs = max(maxMs, ms(br.p.P99))
	}
	const rowH = 16.0
	h := float64(len(bars))*rowH*3.5 + 20
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f">`, chartW+200, h)
	colors := []string{"#2ca02c", "#ff7f0e", "#d62728"}
	for i, br := range bars {
		y := 10 + float64(i)*rowH*3.5
		fmt.Fprintf(&b, `<text x="0" y="%.0f" font-size="12">%s</text>`, y+rowH, html.EscapeString(br.name))
		for j, d := range []time.Duration{br.p.P50, br.p.P95, br.p.P99} {
			w := ms(d) / maxMs * (chartW - 200)
			fmt.Fprintf(&b, `<rect x="180" y="%.0f" width="%.1f" height="%.0f" fill="%s"/><text x="%.0f" y="%.0f" font-size="11">p%s %.0f ms</text>`,
				y+float64(j)*rowH, w, rowH-2, colors[j], 185+w, y+float64(j)*rowH+11, []string{"50", "95", "99"}[j], ms(d))
		}
	}
	b.WriteString("</svg>")
	return b.String()
}

// PeakRSS is this process's peak resident memory (VmHWM) in bytes; 0 if unknown.
func PeakRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}
