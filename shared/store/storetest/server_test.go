package storetest

import (
	"net"
	"os/exec"
	"strings"
	"testing"
)

// TestRunServer: a server starts on a free port and answers as itself; on a port another
// socket or another redis-server holds, the start fails with the server's own reason
// rather than handing out the other's address.
func TestRunServer(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server is needed: run make deps")
	}
	free := func(t *testing.T) int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	for _, tc := range []struct {
		name    string
		port    func(t *testing.T) int
		wantErr string
	}{
		{"a free port", free, ""},
		{"a port a listener holds", func(t *testing.T) int {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			return l.Addr().(*net.TCPAddr).Port
		}, "already in use"},
		{"a port another redis-server holds", func(t *testing.T) int {
			other, err := RunServer(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(other.Kill)
			return other.Port
		}, "already in use"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := run(bin, tc.port(t), t.TempDir(), nil)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				s.Kill()
				if c, err := net.Dial("tcp", s.Addr()); err == nil {
					c.Close()
					t.Fatalf("%s still answers after Kill", s.Addr())
				}
				return
			}
			if err == nil {
				s.Kill()
				t.Fatalf("started on a taken port %d", s.Port)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q, want it to say %q", err, tc.wantErr)
			}
		})
	}
}
