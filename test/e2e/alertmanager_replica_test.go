//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kubepulse/kubepulse/test/e2e/framework"
)

// amPid parses a pid from ALERTMANAGER_PIDS.
func amPid(t *testing.T, s string) int {
	t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		t.Fatalf("pid %q: %v", s, err)
	}
	return pid
}

// amStopReplica stops ONE Alertmanager replica started by start-alertmanager.sh
// (stop.sh can only stop them all) and returns a function that starts it again
// with the same command line: same port, cluster address, peers and storage.
// The new process is recorded in the run dir's pid file, so the framework's
// cleanup (and the owner-pid watchdog) stops it with the others.
func amStopReplica(t *testing.T, pid int) (restart func()) {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatalf("replica %d: %v", pid, err)
	}
	args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	storage, listen := amFlag(args, "--storage.path"), amFlag(args, "--web.listen-address")
	if storage == "" || listen == "" {
		t.Fatalf("replica %d: unexpected command line %q", pid, args)
	}
	runDir := filepath.Dir(storage)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatalf("stop replica %d: %v", pid, err)
	}
	framework.Eventually(t, 30*time.Second, func() (bool, string) {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		gone := err != nil || bytes.Contains(status, []byte("State:\tZ"))
		return gone, fmt.Sprintf("replica %d still running", pid)
	})
	t.Logf("stopped Alertmanager replica %d (%s)", pid, listen)

	return func() {
		t.Helper()
		logf, err := os.OpenFile(storage+".log", os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer logf.Close()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			t.Fatalf("restart replica: %v", err)
		}
		go func() { _ = cmd.Wait() }() // reaped when stop.sh stops it
		pf, err := os.OpenFile(filepath.Join(runDir, "alertmanager.pid"), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			_ = cmd.Process.Kill()
			t.Fatalf("record restarted replica: %v", err)
		}
		fmt.Fprintf(pf, "%d %s\n", cmd.Process.Pid, filepath.Base(args[0]))
		pf.Close()
		framework.Eventually(t, 30*time.Second, func() (bool, string) {
			resp, err := http.Get("http://" + listen + "/-/ready")
			if err != nil {
				return false, err.Error()
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK, resp.Status
		})
		t.Logf("restarted Alertmanager replica as %d (%s)", cmd.Process.Pid, listen)
	}
}

// amFlag returns the value of --name=value in args.
func amFlag(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

// amWebhook is an Alertmanager webhook receiver that keeps every notification.
type amWebhook struct {
	*httptest.Server
	mu   sync.Mutex
	msgs []amWebhookMsg
}

type amWebhookMsg struct {
	Status string `json:"status"` // firing | resolved
	Alerts []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
		EndsAt time.Time         `json:"endsAt"`
	} `json:"alerts"`
}

func newAMWebhook(t *testing.T) *amWebhook {
	w := &amWebhook{}
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var m amWebhookMsg
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		w.mu.Lock()
		w.msgs = append(w.msgs, m)
		w.mu.Unlock()
	}))
	t.Cleanup(w.Close)
	return w
}

// waitFor returns the first notification holding an alert with this status
// (firing or resolved) and label = value, with that alert first.
func (w *amWebhook) waitFor(t *testing.T, status, label, value string) amWebhookMsg {
	t.Helper()
	var found amWebhookMsg
	framework.Eventually(t, 60*time.Second, func() (bool, string) {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, m := range w.msgs {
			for i, a := range m.Alerts {
				if a.Labels[label] == value && a.Status == status {
					found = m
					found.Alerts = slices.Clone(m.Alerts)
					found.Alerts[0], found.Alerts[i] = found.Alerts[i], found.Alerts[0]
					return true, ""
				}
			}
		}
		return false, fmt.Sprintf("no %s notification with %s=%s among %d: %+v", status, label, value, len(w.msgs), w.msgs)
	})
	return found
}
