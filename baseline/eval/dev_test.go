package eval

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/kubepulse/kubepulse/baseline"
)

var (
	devCfg   = flag.String("dev.cfg", "", "JSON config patch")
	devSeeds = flag.Int("dev.seeds", 5, "seeds per scenario")
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
