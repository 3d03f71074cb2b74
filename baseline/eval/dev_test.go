package eval

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/kubepulse/kubepulse/baseline"
)

var (
	devCfg   = flag.String("dev.cfg", "", "JSON config patch")
	devSeeds = flag.Int("dev.seeds", 5, "seeds per scenario")
	devOnly  = flag.String("dev.only", "", "comma-separated scenarios")
	devTable = flag.Bool("dev.table", false, "print the evaluation table for -dev.cfg (tuning aid)")
)

// devConfig is the default config patched by -dev.cfg.
func devConfig(t *testing.T) baseline.Config {
	cfg := baseline.DefaultConfig()
	if *devCfg != "" {
		if err := json.Unmarshal([]byte(*devCfg), &cfg); err != nil {
			t.Fatal(err)
		}
	}
	return cfg
}

func TestDevTable(t *testing.T) {
	if !*devTable {
		t.Skip("tuning aid: go test ./baseline/eval -run TestDevTable -v -args -dev.table -dev.cfg '{...}'")
	}
	cfg := devConfig(t)
	if *devOnly != "" {
		keep := map[string]bool{}
		for _, n := range strings.Split(*devOnly, ",") {
			keep[n] = true
		}
		var sc []Scenario
		for _, s := range Scenarios {
			if keep[s.Name] {
				sc = append(sc, s)
			}
		}
		Scenarios = sc
	}
	rs, err := Evaluate(cfg, *devSeeds)
	if err != nil {
		t.Fatal(err)
	}
	WriteTable(os.Stdout, Summarize(rs))
	fmt.Println()
}
