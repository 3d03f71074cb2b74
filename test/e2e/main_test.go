//go:build e2e

// Package e2e tests kubepulse against real components: kube-apiserver + etcd
// (test/kube), Prometheus, Alertmanager, Jaeger and Chromium (test/observability).
// Run with `make test-e2e` after `make deps-e2e`.
package e2e

import (
	"os"
	"testing"

	"github.com/kubepulse/kubepulse/test/e2e/framework"
)

func TestMain(m *testing.M) {
	code := m.Run()
	framework.StopShared()
	os.Exit(code)
}
