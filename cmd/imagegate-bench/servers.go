package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Server is one registry process under test: its base URL, its process
// (whose CPU time the bench charges to it) and its debug address, if any.
type Server struct {
	Name  string
	URL   string // http://127.0.0.1:PORT
	Host  string // 127.0.0.1:PORT, for clients taking a reference
	Debug string // imagegate's debug listener (pprof when enabled), "" for others
	cmd   *exec.Cmd
	log   *os.File
	exit  chan struct{} // closed when the process has exited
}

// freePort returns a loopback port free at the time of the call.
func freePort() (int, error) {
	ports, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// freePorts returns n distinct loopback ports free at the time of the
// call (each listened on until all are chosen).
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// startImagegate starts bin with its zero configuration (filesystem and
// bolt under dir/data) on free loopback ports; extraEnv adds IMAGEGATE_*
// settings (e.g. the storage switch or pprof), args flags of serve
// (e.g. --config FILE).
func startImagegate(bin, dir string, extraEnv []string, args ...string) (*Server, error) {
	// Both ports at once: two calls of freePort may return the same one.
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	port, dport := ports[0], ports[1]
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Dir = dir
	// Only the settings below: an IMAGEGATE_* variable of the caller's
	// (IMAGEGATE_BIN under make test) would be read as configuration.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IMAGEGATE_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env,
		"IMAGEGATE_HTTP_ADDR=127.0.0.1:"+strconv.Itoa(port),
		"IMAGEGATE_DEBUG_ADDR=127.0.0.1:"+strconv.Itoa(dport),
		"IMAGEGATE_LOG_LEVEL=warn")
	cmd.Env = append(cmd.Env, extraEnv...)
	s := &Server{Name: "imagegate", Debug: "127.0.0.1:" + strconv.Itoa(dport)}
	return s, s.start(cmd, dir, port)
}

// startDistribution starts distribution's own registry binary with the
// filesystem driver rooted in dir/registry.
func startDistribution(bin, dir string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: 127.0.0.1:%d
`, filepath.Join(dir, "registry"), port)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Dir = dir
	s := &Server{Name: "distribution"}
	return s, s.start(cmd, dir, port)
}

func (s *Server) start(cmd *exec.Cmd, dir string, port int) error {
	log, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start %s: %w", s.Name, err)
	}
	s.cmd, s.log, s.exit = cmd, log, make(chan struct{})
	go func() { _ = cmd.Wait(); close(s.exit) }()
	s.Host = "127.0.0.1:" + strconv.Itoa(port)
	s.URL = "http://" + s.Host
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		resp, err := http.Get(s.URL + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exit:
			log.Close()
			b, _ := os.ReadFile(log.Name())
			return fmt.Errorf("%s exited at start: %s", s.Name, lastLines(string(b), 5))
		case <-ctx.Done():
			s.Stop()
			return fmt.Errorf("%s did not answer /v2/ within 60s (log: %s)", s.Name, log.Name())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Stop ends the server (SIGTERM, then SIGKILL after 10 s).
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exit:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exit
	}
	s.log.Close()
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times (100 on Linux).
const clockTicks = 100

// CPUSeconds is the user+system CPU time the process has used so far.
func CPUSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	// f[0] is field 3 (state): utime is field 14, stime field 15.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed times in /proc/%d/stat", pid)
	}
	return float64(ut+st) / clockTicks, nil
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}
