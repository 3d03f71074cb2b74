package config

import (
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestShippedConfigMapLoads: the configuration the Helm chart renders
// (manifests/kubepulse.yaml, default values) decodes strictly and validates,
// so the chart and the agent cannot drift apart unnoticed.
func TestShippedConfigMapLoads(t *testing.T) {
	b, err := os.ReadFile("../../manifests/kubepulse.yaml")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, doc := range strings.Split(string(b), "\n---\n") {
		var obj struct {
			Kind     string                `json:"kind"`
			Metadata struct{ Name string } `json:"metadata"`
			Data     map[string]string     `json:"data"`
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("manifest document: %v", err)
		}
		cfgYAML, ok := obj.Data["config.yaml"]
		if obj.Kind != "ConfigMap" || !ok {
			continue
		}
		found = true
		c, err := Decode([]byte(cfgYAML), Default())
		if err != nil {
			t.Fatalf("ConfigMap %s: %v", obj.Metadata.Name, err)
		}
		c.NodeName, c.PodNamespace = "node-a", "kubepulse" // the downward API's part
		if err := c.Validate(); err != nil {
			t.Fatalf("ConfigMap %s: %v", obj.Metadata.Name, err)
		}
		if c.Checkpoint.Path == "" || c.Probe.ClusterQPS != 20 {
			t.Errorf("rendered config not applied: %+v", c)
		}
	}
	if !found {
		t.Fatal("no ConfigMap with config.yaml in manifests/kubepulse.yaml")
	}
}
