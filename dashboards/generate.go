package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Board is one generated dashboard.
type Board struct {
	File  string // file name, e.g. "overview.json"
	Build func() (dashboard.Dashboard, error)
}

// Boards lists the dashboards in the order the chart ships them.
var Boards = []Board{
	{File: "overview.json", Build: Overview},
	{File: "node.json", Build: Node},
	{File: "client-vs-server.json", Build: ClientServer},
}

// RulesFile is the rule file's name.
const RulesFile = "kubepulse.rules.yaml"

// Where the generated files live, relative to the repository root: the
// dashboards directory (for people and Grafana provisioning by file) and the
// Helm chart, which can only ship files inside itself.
const (
	Dir          = "dashboards"
	ChartFileDir = "manifests/charts/kubepulse/files"
)

// Files renders every generated file, keyed by its path from the repository
// root.
func Files() (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, b := range Boards {
		d, err := b.Build()
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", b.File, err)
		}
		raw, err := encodeJSON(d)
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", b.File, err)
		}
		out[path.Join(Dir, b.File)] = raw
		out[path.Join(ChartFileDir, "dashboards", b.File)] = raw
	}
	rules, err := Rules().YAML()
	if err != nil {
		return nil, err
	}
	out[path.Join(Dir, RulesFile)] = rules
	out[path.Join(ChartFileDir, RulesFile)] = rules
	return out, nil
}

// encodeJSON indents like Grafana's export and leaves PromQL's < > & as they
// are (encoding/json would escape them for HTML).
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
