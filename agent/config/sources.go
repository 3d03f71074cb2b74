package config

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// setting is one value that the environment and a flag can both set.
type setting struct {
	flag, env, usage string
	set              func(c *Config, v string) error
}

func settings() []setting {
	str := func(dst func(*Config) *string) func(*Config, string) error {
		return func(c *Config, v string) error { *dst(c) = v; return nil }
	}
	dur := func(dst func(*Config) *Duration) func(*Config, string) error {
		return func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("want a duration such as 10s, got %q", v)
			}
			*dst(c) = Duration(d)
			return nil
		}
	}
	return []setting{
		{"node-name", "NODE_NAME", "this node's name (downward API spec.nodeName)", str(func(c *Config) *string { return &c.NodeName })},
		{"pod-name", "POD_NAME", "this pod's name (downward API metadata.name)", str(func(c *Config) *string { return &c.PodName })},
		{"pod-namespace", "POD_NAMESPACE", "this pod's namespace (downward API metadata.namespace)", str(func(c *Config) *string { return &c.PodNamespace })},
		{"kubeconfig", "KUBECONFIG", "kubeconfig file; empty: in-cluster configuration", str(func(c *Config) *string { return &c.Kubeconfig })},
		{"listen-address", "KUBEPULSE_LISTEN_ADDRESS", "address of /metrics, health, status page (default :9477)", str(func(c *Config) *string { return &c.ListenAddress })},
		{"log-level", "KUBEPULSE_LOG_LEVEL", "debug, info, warn or error", str(func(c *Config) *string { return &c.Log.Level })},
		{"log-format", "KUBEPULSE_LOG_FORMAT", "json or text", str(func(c *Config) *string { return &c.Log.Format })},
		{"cluster-qps", "KUBEPULSE_CLUSTER_QPS", "probe requests per second of all agents together (default 20)", func(c *Config, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("want a number, got %q", v)
			}
			c.Probe.ClusterQPS = f
			return nil
		}},
		{"probe-interval", "KUBEPULSE_PROBE_INTERVAL", "wanted time for one round of probes (default 10s)", dur(func(c *Config) *Duration { return &c.Probe.Interval })},
		{"alertmanager-url", "KUBEPULSE_ALERTMANAGER_URLS", "Alertmanager base URLs, comma-separated (every one gets every alert)", func(c *Config, v string) error {
			c.Alertmanager.URLs = nil
			for _, u := range strings.Split(v, ",") {
				if u = strings.TrimSpace(u); u != "" {
					c.Alertmanager.URLs = append(c.Alertmanager.URLs, u)
				}
			}
			return nil
		}},
		{"checkpoint-path", "KUBEPULSE_CHECKPOINT_PATH", "checkpoint file; empty disables checkpoints", str(func(c *Config) *string { return &c.Checkpoint.Path })},
	}
}

// Sources are where a configuration comes from, in increasing precedence:
// defaults, the file, the environment, flags.
type Sources struct {
	// File is the YAML file (flag --config, env KUBEPULSE_CONFIG); empty:
	// none.
	File string
	// Base replaces Default() as the lowest layer (the demo uses its own).
	Base *Config
	// Getenv reads the environment (default os.Getenv).
	Getenv func(string) string
	flags  map[string]string // explicitly set flags, by name
}

// BindFlags registers the agent's flags on fs and returns the Sources that
// Load reads once fs is parsed: only flags given on the command line
// override the file and the environment.
func BindFlags(fs *flag.FlagSet) *Sources {
	s := &Sources{flags: map[string]string{}}
	fs.Func("config", "YAML configuration file, hot-reloaded (env KUBEPULSE_CONFIG)", func(v string) error {
		s.File = v
		return nil
	})
	for _, st := range settings() {
		name := st.flag
		fs.Func(name, st.usage+" (env "+st.env+")", func(v string) error {
			var scratch Config
			if err := st.set(&scratch, v); err != nil {
				return err
			}
			s.flags[name] = v
			return nil
		})
	}
	return s
}

// Load builds the configuration from every source and validates it.
// Errors name the source: the file, `env NAME` or `flag --name`.
func (s *Sources) Load() (Config, error) {
	getenv := s.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	file := s.File
	if file == "" {
		file = getenv("KUBEPULSE_CONFIG")
	}
	c := Default()
	if s.Base != nil {
		c = *s.Base
	}
	if file != "" {
		doc, err := os.ReadFile(file)
		if err != nil {
			return c, fmt.Errorf("config file: %w", err)
		}
		if c, err = Decode(doc, c); err != nil {
			return c, fmt.Errorf("config file %s: %w", file, err)
		}
	}
	for _, st := range settings() {
		if v := getenv(st.env); v != "" {
			if err := st.set(&c, v); err != nil {
				return c, fmt.Errorf("env %s: %w", st.env, err)
			}
		}
	}
	for _, st := range settings() {
		if v, ok := s.flags[st.flag]; ok {
			if err := st.set(&c, v); err != nil {
				return c, fmt.Errorf("flag --%s: %w", st.flag, err)
			}
		}
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return c, nil
}

// ConfigFile is the file Load reads, if any.
func (s *Sources) ConfigFile() string {
	if s.File != "" {
		return s.File
	}
	getenv := s.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	return getenv("KUBEPULSE_CONFIG")
}
