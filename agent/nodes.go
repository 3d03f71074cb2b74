package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// The node count is kept next to the checkpoint, so that a restarted agent
// knows its share of the probe budget at once instead of spreading a
// cold start over probe.startupSpread.

func nodeCountPath(checkpoint string) string { return checkpoint + ".nodes.json" }

func readNodeCount(checkpoint string) int {
	if checkpoint == "" {
		return 0
	}
	b, err := os.ReadFile(nodeCountPath(checkpoint))
	if err != nil {
		return 0
	}
	var v struct {
		Nodes int `json:"nodes"`
	}
	if json.Unmarshal(b, &v) != nil || v.Nodes < 0 {
		return 0
	}
	return v.Nodes
}

func writeNodeCount(checkpoint string, n int) error {
	path := nodeCountPath(checkpoint)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".nodes-*")
	if err != nil {
		return fmt.Errorf("node count: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := json.NewEncoder(tmp).Encode(map[string]int{"nodes": n}); err != nil {
		tmp.Close()
		return fmt.Errorf("node count: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("node count: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}
