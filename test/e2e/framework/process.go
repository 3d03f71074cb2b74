//go:build linux

package framework

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process is a program a test runs (usually the kubepulse binary), with its
// stdout and stderr captured. It is killed when the test ends if it still
// runs, and if the test failed the tail of its output is logged. Its output
// is also kept in the artifacts directory (see ArtifactPath), so a failed run
// can be read in full.
type Process struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	state  *os.ProcessState
	err    error
}

// ProcessOptions configure StartProcess.
type ProcessOptions struct {
	// Name tells the process apart in logs and artifacts (default: the
	// binary's base name).
	Name string
	// Env is added to this process's environment (KEY=value).
	Env []string
	// Dir is the working directory (default the test's temporary directory).
	Dir string
}

// StartProcess starts bin with args. The process dies with the test binary
// (PR_SET_PDEATHSIG), so a test killed by -timeout leaves nothing running.
func StartProcess(t testing.TB, bin string, args []string, o ProcessOptions) *Process {
	t.Helper()
	if o.Name == "" {
		o.Name = filepath.Base(bin)
	}
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	p := &Process{t: t, name: o.Name, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = o.Dir
	p.cmd.Env = append(os.Environ(), o.Env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", o.Name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		p.state = p.cmd.ProcessState
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.Exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		p.saveOutput()
		if t.Failed() {
			t.Logf("--- %s stderr (last 4 KiB)\n%s", p.name, tail(p.Stderr(), 4096))
			t.Logf("--- %s stdout (last 2 KiB)\n%s", p.name, tail(p.Stdout(), 2048))
		}
	})
	return p
}

// Pid is the process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Stdout is everything the process wrote to stdout so far.
func (p *Process) Stdout() string { return p.stdout.String() }

// Stderr is everything the process wrote to stderr so far (the agent's logs).
func (p *Process) Stderr() string { return p.stderr.String() }

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v to %s: %v", sig, p.name, err)
	}
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits up to timeout for the process to end and returns its exit code
// (-1 if a signal killed it). It fails the test if the process still runs.
func (p *Process) Wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("%s still running after %v", p.name, timeout)
	}
	var exit *exec.ExitError
	if p.err != nil && !errors.As(p.err, &exit) {
		p.t.Fatalf("%s: %v", p.name, p.err)
	}
	return p.state.ExitCode()
}

// Done is closed when the process ends.
func (p *Process) Done() <-chan struct{} { return p.done }

// saveOutput keeps the process's output in the artifacts directory.
func (p *Process) saveOutput() {
	for suffix, b := range map[string]*syncBuffer{"stdout.log": p.stdout, "stderr.log": p.stderr} {
		path := ArtifactPath(p.t, p.name+"-"+suffix)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
			_ = os.WriteFile(path, []byte(b.String()), 0o644)
		}
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine and readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ProcStatus reads fields of /proc/PID/status in kibibytes, e.g. VmRSS and
// VmHWM, for memory measurements.
func ProcStatus(pid int, fields ...string) (map[string]int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		for _, f := range fields {
			if k == f {
				var kb int64
				if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err != nil {
					return nil, fmt.Errorf("/proc/%d/status %s: %q: %w", pid, k, v, err)
				}
				out[k] = kb
			}
		}
	}
	for _, f := range fields {
		if _, ok := out[f]; !ok {
			return nil, fmt.Errorf("/proc/%d/status has no %s", pid, f)
		}
	}
	return out, nil
}

// ProcCPU is the CPU time (user + system) a process has used so far, from
// /proc/PID/stat.
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces: fields are counted after its ')'.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields))
	}
	var utime, stime int64
	if _, err := fmt.Sscan(fields[11], &utime); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat utime: %w", pid, err)
	}
	if _, err := fmt.Sscan(fields[12], &stime); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat stime: %w", pid, err)
	}
	const ticks = 100 // USER_HZ, 100 on Linux
	return time.Duration(utime+stime) * time.Second / ticks, nil
}
