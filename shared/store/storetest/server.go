package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a redis-server child process of a test binary. It dies with the binary however
// that ends (a fuzz worker the fuzzing engine kills leaves no server behind holding its
// pipes), or at Kill.
type Server struct {
	Port int

	cmd    *exec.Cmd
	exited chan struct{}
	err    error // cmd.Wait's, once exited is closed
	out    output
}

// output keeps the start of a server's output, for the error of a server that did not
// start.
type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.buf.Len() < 64<<10 {
		o.buf.Write(p)
	}
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// RunServer starts redis-server with args on a free loopback port, with dir as its working
// directory, and returns once that server, and not another process on the port, answers.
// A port taken between choosing it and the server's bind is chosen again. When there is
// no redis-server to run, the error is exec.ErrNotFound.
func RunServer(dir string, args ...string) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is needed (make deps installs it): %w", err)
	}
	var errs []error
	for range 5 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		s, err := run(bin, port, dir, args)
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func run(bin string, port int, dir string, args []string) (*Server, error) {
	s := &Server{Port: port, exited: make(chan struct{})}
	s.cmd = exec.Command(bin, append(append([]string(nil), args...), "--port", strconv.Itoa(port),
		"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)...)
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.err = s.cmd.Wait(); close(s.exited) }()

	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1,
		DialTimeout: time.Second, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
	defer c.Close()
	ours := "process_id:" + strconv.Itoa(s.cmd.Process.Pid)
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-s.exited:
			return nil, fmt.Errorf("redis-server on port %d: %v\n%s", port, s.err, s.out.String())
		default:
		}
		if info, err := c.Info(context.Background(), "server").Result(); err == nil && strings.Contains(info, ours+"\r\n") {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Kill()
			return nil, fmt.Errorf("redis-server on port %d did not answer in 20s:\n%s", port, s.out.String())
		}
		time.Sleep(20 * time.Millisecond) // waiting for a child process to listen; no signal to wait on
	}
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// URL is the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr() }

// Kill ends the server at once, as a crash would, and waits until it has.
func (s *Server) Kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}
