package chaos

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestREADMEParts: the README's "The parts, separately" lists the command lines the
// harness runs, with the README's addresses, directories and placeholders.
func TestREADMEParts(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "## The parts, separately")
	if !ok {
		t.Fatal("README has no section The parts, separately")
	}
	_, block, _ := strings.Cut(section, "```sh\n")
	block, _, _ = strings.Cut(block, "```")
	got := readmeCommands(block)

	l := layout{redisPort: 6379, redisDir: "/var/lib/photon/redis", http: "127.0.0.1:9000", grpc: "127.0.0.1:9001",
		https: "127.0.0.1:9443", join: "127.0.0.1:9002", nsx: "127.0.0.1:9080", hostListen: []string{"127.0.0.1:8835"},
		simListen: []string{"127.0.0.1:8989"}, cert: []string{"/var/lib/photon/hostd-0"}, password: "secret"}
	photon := func(args []string) []string { return append([]string{"photon"}, args...) }
	want := [][]string{
		append([]string{"redis-server"}, l.redisArgs()...),
		photon(l.gatewayArgs()),
		photon(l.nsxArgs()),
		photon(l.joinTokenArgs()),
		photon(l.hostdArgs(0, "$PIN", "$TOKEN")),
		photon(l.functionArgs("place")),
		photon(l.functionArgs("reconcile")),
		photon(l.notifierArgs()),
	}
	if len(got) != len(want) {
		t.Fatalf("README lists %d commands, the harness runs %d:\n%q\n%q", len(got), len(want), got, want)
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("README command %d:\n  %q\nthe harness runs:\n  %q", i, got[i], want[i])
		}
	}
}

// readmeCommands splits a shell block into commands: lines continued with a backslash
// are joined, comments dropped, words split as the shell does for ” and "" quotes.
func readmeCommands(block string) [][]string {
	var out [][]string
	var line string
	for _, l := range strings.Split(block, "\n") {
		if cont, ok := strings.CutSuffix(strings.TrimRight(l, " "), `\`); ok {
			line += cont + " "
			continue
		}
		line += l
		if words := shellWords(line); len(words) > 0 {
			out = append(out, words)
		}
		line = ""
	}
	return out
}

func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	in, quote := false, rune(0)
	for i, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(r)
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == '#' && !in && (i == 0 || s[i-1] == ' '):
			return words
		case r == ' ' || r == '\t':
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, w.String())
	}
	return words
}
