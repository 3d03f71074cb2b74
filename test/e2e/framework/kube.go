package framework

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Cluster is a running kube-apiserver + etcd (and, with controllers, KCM,
// scheduler and kwok) on loopback.
type Cluster struct {
	Dir string            // run dir: kubeconfig, logs, pki
	Env map[string]string // KUBECONFIG, KUBE_E2E_APISERVER, KUBE_E2E_CA_FILE, ...
}

// ClusterOptions choose what StartCluster runs.
type ClusterOptions struct {
	Controllers bool // kube-controller-manager, kube-scheduler and kwok
	KwokNodes   int  // fake nodes to create (with Controllers); 0 = the script's default
}

// StartCluster starts a control plane in a new run dir. Call Stop when done
// (TestMain) — a watchdog stops it anyway when this process exits.
func StartCluster(o ClusterOptions) (*Cluster, error) {
	dir, err := os.MkdirTemp("", "kubepulse-kube-")
	if err != nil {
		return nil, fmt.Errorf("start cluster: %w", err)
	}
	args := []string{"--owner-pid", strconv.Itoa(os.Getpid())}
	if o.Controllers {
		args = append(args, "--controllers")
		if o.KwokNodes > 0 {
			args = append(args, "--kwok-nodes", strconv.Itoa(o.KwokNodes))
		}
	}
	if err := script(KubeRecipeDir(), "start.sh", append(args, dir)...).Run(); err != nil {
		return nil, fmt.Errorf("start.sh (logs in %s): %w", dir, err)
	}
	env, err := readEnvFile(filepath.Join(dir, "env"))
	if err != nil {
		_ = script(KubeRecipeDir(), "stop.sh", dir).Run()
		return nil, err
	}
	return &Cluster{Dir: dir, Env: env}, nil
}

// Stop stops every process of the cluster and removes its run dir.
func (c *Cluster) Stop() error {
	if err := script(KubeRecipeDir(), "stop.sh", "--rm", c.Dir).Run(); err != nil {
		return fmt.Errorf("stop.sh %s: %w", c.Dir, err)
	}
	return nil
}

// AdminConfig is a cluster-admin rest.Config. QPS and Burst are raised because
// client-go's default 5/10 makes a real API server look slow: requests would wait
// in the client's own rate limiter.
func (c *Cluster) AdminConfig(t testing.TB) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Env["KUBECONFIG"])
	if err != nil {
		t.Fatalf("admin config: %v", err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	return cfg
}

// Kubectl is the path of the kubectl binary built with the cluster.
func (c *Cluster) Kubectl() string { return c.Env["KUBE_E2E_KUBECTL"] }

var (
	sharedMu      sync.Mutex
	sharedCluster *Cluster
	sharedErr     error
)

// SharedCluster returns this test binary's cluster (etcd + kube-apiserver,
// controllers and 2 kwok nodes), starting it on first use. Tests must not
// assume they are alone on it: use their own namespaces. Call StopShared from
// TestMain after m.Run.
func SharedCluster(t testing.TB) *Cluster {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedCluster == nil && sharedErr == nil {
		sharedCluster, sharedErr = StartCluster(ClusterOptions{Controllers: true, KwokNodes: 2})
	}
	if sharedErr != nil {
		t.Fatalf("shared cluster: %v", sharedErr)
	}
	return sharedCluster
}

// StopShared stops the shared cluster if one was started.
func StopShared() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedCluster != nil {
		if err := sharedCluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "framework:", err)
		}
		sharedCluster = nil
	}
}
