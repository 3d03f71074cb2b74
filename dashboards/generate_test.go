package dashboards

import (
	"bytes"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated dashboards and rules")

// repoRoot is the repository root: this package sits one level below it.
const repoRoot = ".."

// TestGenerated fails when a committed dashboard or rule file differs from
// what the generator produces (go test ./dashboards -run TestGenerated
// -update rewrites them), so the JSON in git, the chart and the Go source
// cannot drift apart.
func TestGenerated(t *testing.T) {
	files, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		want := files[name]
		p := filepath.Join(repoRoot, filepath.FromSlash(name))
		if *update {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("%s: %v (run go test ./dashboards -run TestGenerated -update)", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go test ./dashboards -run TestGenerated -update", name)
		}
	}
}

// docs/dashboards.md lists every metric and every recorded series, so the
// reference people read cannot fall behind the Go that generates them.
func TestDocsListEverything(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "dashboards.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range Metrics {
		if !bytes.Contains(doc, []byte("`"+m.Name+"`")) {
			t.Errorf("docs/dashboards.md does not list metric %s", m.Name)
		}
	}
	for _, g := range Rules().Groups {
		for _, r := range g.Rules {
			if r.Record != "" && !bytes.Contains(doc, []byte("`"+r.Record+"`")) {
				t.Errorf("docs/dashboards.md does not list recording rule %s", r.Record)
			}
		}
	}
}
