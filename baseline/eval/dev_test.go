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
)

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
	if !testing.Verbose() {
		t.Skip("dev only")
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

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(m.Run())
}
