// Package logging builds the agent's one slog.Logger and routes client-go's
// klog output into it, so every line the process writes is structured the same
// way.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"k8s.io/klog/v2"
)

// Format is how log records are written.
type Format string

// Formats the agent accepts.
const (
	FormatJSON Format = "json"
	FormatText Format = "text"
)

// ParseLevel accepts debug, info, warn (or warning) and error, in any case.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("want debug, info, warn or error, got %q", s)
}

// ParseFormat accepts json and text.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case "", FormatJSON:
		return FormatJSON, nil
	case FormatText:
		return FormatText, nil
	}
	return "", fmt.Errorf("want json or text, got %q", s)
}

// New returns a logger writing to w. The level is a LevelVar so that a config
// reload can change it without rebuilding the logger handed down to every
// component.
func New(w io.Writer, format Format, level *slog.LevelVar) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == FormatText {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// RouteKlog sends client-go's klog output (reflector errors, throttling
// messages, ...) to log, tagged component=client-go.
func RouteKlog(log *slog.Logger) {
	klog.SetSlogLogger(log.With("component", "client-go"))
}
