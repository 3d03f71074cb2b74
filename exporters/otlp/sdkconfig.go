package otlp

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// resolveSampler picks and validates the sampler. The SDK reads
// OTEL_TRACES_SAMPLER too, but falls back silently on a bad value and has a
// different default; the sampler is therefore always passed explicitly.
func (c *config) resolveSampler(o Options, bad *errs) {
	name, from := DefaultSampler, "default"
	if o.Sampler != "" {
		name, from = strings.ToLower(strings.TrimSpace(o.Sampler)), "Options.Sampler"
	} else if v := getenv(envSampler); v != "" {
		name, from = strings.ToLower(v), envSampler
	}

	ratio := DefaultSampleRatio
	if from != "default" {
		ratio = 1 // the specification's default when a ratio sampler is named without an argument
	}
	if o.SampleRatio != 0 {
		ratio = o.SampleRatio
		if o.SampleRatio < 0 || o.SampleRatio > 1 {
			bad.add(settingError("Options.SampleRatio", "%v: want a ratio in (0, 1]", o.SampleRatio))
		}
	} else if v := getenv(envSamplerArg); v != "" && strings.HasSuffix(name, "traceidratio") {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			bad.add(settingError(envSamplerArg, "%q: want a ratio between 0 and 1, like 0.25", v))
		}
		ratio = f
	}

	switch name {
	case "always_on":
		c.sampler = sdktrace.AlwaysSample()
	case "always_off":
		c.sampler = sdktrace.NeverSample()
	case "traceidratio":
		c.sampler = sdktrace.TraceIDRatioBased(ratio)
	case "parentbased_always_on":
		c.sampler = sdktrace.ParentBased(sdktrace.AlwaysSample())
	case "parentbased_always_off":
		c.sampler = sdktrace.ParentBased(sdktrace.NeverSample())
	case "parentbased_traceidratio":
		c.sampler = sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))
	default:
		bad.add(settingError(from, "%q: want always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio", name))
		return
	}
	c.samplerDesc = name
	if strings.HasSuffix(name, "traceidratio") {
		c.samplerDesc = fmt.Sprintf("%s(%g)", name, ratio)
	}
}

// resolveBatching sizes the bounded batch processor. The SDK reads OTEL_BSP_*
// too but ignores bad values; the sizes are also needed here to count drops.
func (c *config) resolveBatching(o Options, bad *errs) {
	c.queueSize, c.batchSize = DefaultMaxQueueSize, DefaultMaxExportBatchSize
	c.batchTimeout, c.exportTimout = DefaultBatchTimeout, DefaultExportTimeout
	queueFrom, batchFrom := "default", "default"

	if v := getenv(envBSPQueueSize); v != "" {
		n, err := parsePositive(envBSPQueueSize, v)
		bad.add(err)
		c.queueSize, queueFrom = n, envBSPQueueSize
	}
	if v := getenv(envBSPBatchSize); v != "" {
		n, err := parsePositive(envBSPBatchSize, v)
		bad.add(err)
		c.batchSize, batchFrom = n, envBSPBatchSize
	}
	if v := getenv(envBSPDelay); v != "" {
		d, err := parseMillis(envBSPDelay, v, false)
		bad.add(err)
		c.batchTimeout = d
	}
	if v := getenv(envBSPTimeout); v != "" {
		d, err := parseMillis(envBSPTimeout, v, false)
		bad.add(err)
		c.exportTimout = d
	}

	positive := func(name string, n int, dst *int, from *string) {
		switch {
		case n < 0:
			bad.add(settingError(name, "%d: want a positive number", n))
		case n > 0:
			*dst, *from = n, name
		}
	}
	positive("Options.MaxQueueSize", o.MaxQueueSize, &c.queueSize, &queueFrom)
	positive("Options.MaxExportBatchSize", o.MaxExportBatchSize, &c.batchSize, &batchFrom)
	for _, d := range []struct {
		name string
		v    time.Duration
		dst  *time.Duration
	}{{"Options.BatchTimeout", o.BatchTimeout, &c.batchTimeout}, {"Options.ExportTimeout", o.ExportTimeout, &c.exportTimout}} {
		switch {
		case d.v < 0:
			bad.add(settingError(d.name, "%v: want a positive duration", d.v))
		case d.v > 0:
			*d.dst = d.v
		}
	}

	if c.batchSize > c.queueSize && c.queueSize > 0 {
		if batchFrom == "default" {
			c.batchSize = c.queueSize // a small queue given alone shrinks the batch with it
		} else {
			bad.add(settingError(batchFrom, "%d: want at most the queue size (%d, from %s)", c.batchSize, c.queueSize, queueFrom))
		}
	}
}
