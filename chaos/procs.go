package chaos

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one part of the deployment: a command the harness starts, SIGKILLs and starts
// again with the same arguments. It is ready once its output shows ready.
type proc struct {
	name  string // e.g. "gateway", "function vmhost", "hostd 2"
	kind  string // what the kill schedule names: "gateway", "function vmhost", "hostd", ...
	path  string
	args  []string
	ready string // a line of its output that says it serves
	log   string // file its output goes to, across restarts

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	seen chan struct{} // closed when ready was seen in this run's output
}

// start runs the process and waits until it is ready or timeout passes.
func (p *proc) start(ctx context.Context, timeout time.Duration) error {
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "=== %s %s %s\n", time.Now().Format(time.RFC3339Nano), p.path, strings.Join(p.args, " "))
	seen := make(chan struct{})
	w := &watchWriter{w: f, marker: []byte(p.ready), seen: seen}
	// Not CommandContext: the harness ends its processes itself, by their pids.
	cmd := exec.Command(p.path, p.args...)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		f.Close()
		close(done)
	}()
	p.mu.Lock()
	p.cmd, p.done, p.seen = cmd, done, seen
	p.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-seen:
		return nil
	case <-done:
		return fmt.Errorf("%s exited before it was ready (%s): %s", p.name, cmd.ProcessState, tail(p.log))
	case <-t.C:
		return fmt.Errorf("%s not ready after %s: %s", p.name, timeout, tail(p.log))
	case <-ctx.Done():
		return ctx.Err()
	}
}

// kill SIGKILLs the process and waits for it to be gone.
func (p *proc) kill() { p.end(syscall.SIGKILL, 0) }

// stop ends the process at the end of a run: SIGTERM, then SIGKILL after grace.
func (p *proc) stop(grace time.Duration) { p.end(syscall.SIGTERM, grace) }

// end sends sig, then SIGKILL if the process is still there after grace, and waits for
// it to be gone.
func (p *proc) end(sig syscall.Signal, grace time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	if sig != syscall.SIGKILL {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-done:
			return
		case <-t.C:
			cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	<-done
}

// running reports whether the process is up (it may have died by itself).
func (p *proc) running() bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// watchWriter copies a process's output to w and closes seen once marker has appeared.
type watchWriter struct {
	w      io.Writer
	marker []byte
	seen   chan struct{}

	mu   sync.Mutex
	tail []byte
	hit  bool
}

func (ww *watchWriter) Write(b []byte) (int, error) {
	ww.mu.Lock()
	if !ww.hit {
		ww.tail = append(ww.tail, b...)
		if bytes.Contains(ww.tail, ww.marker) {
			ww.hit = true
			ww.tail = nil
			close(ww.seen)
		} else if n := len(ww.tail) - len(ww.marker); n > 4096 {
			ww.tail = append([]byte(nil), ww.tail[n:]...)
		}
	}
	ww.mu.Unlock()
	return ww.w.Write(b)
}

// tail is the end of a log file, for error messages.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 1500 {
		b = b[len(b)-1500:]
	}
	return strings.TrimSpace(string(b))
}

// freePorts finds n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	out := make([]int, n)
	for i := range out {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		out[i] = l.Addr().(*net.TCPAddr).Port
	}
	return out, nil
}

func logPath(dir, name string) string {
	return filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".log")
}
