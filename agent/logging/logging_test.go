package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"k8s.io/klog/v2"
)

func TestParseLevel(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    slog.Level
		wantErr bool
	}{
		{"", slog.LevelInfo, false},
		{"DEBUG", slog.LevelDebug, false},
		{"warning", slog.LevelWarn, false},
		{"error", slog.LevelError, false},
		{"verbose", 0, true},
	} {
		got, err := ParseLevel(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v, err=%v", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), tc.in) {
			t.Errorf("error %q does not name the bad value", err)
		}
	}
}

func TestParseFormat(t *testing.T) {
	if f, err := ParseFormat("Text"); err != nil || f != FormatText {
		t.Errorf("ParseFormat(Text) = %v, %v", f, err)
	}
	if _, err := ParseFormat("xml"); err == nil {
		t.Error("ParseFormat(xml): want error")
	}
}

func TestLevelVarAndKlogRouting(t *testing.T) {
	var buf bytes.Buffer
	var level slog.LevelVar
	level.Set(slog.LevelWarn)
	log := New(&buf, FormatJSON, &level)

	log.Info("hidden")
	if buf.Len() != 0 {
		t.Fatalf("info logged at warn level: %s", buf.String())
	}
	level.Set(slog.LevelInfo)
	RouteKlog(log)
	defer klog.ClearLogger()
	klog.InfoS("reflector started", "resource", "leases")
	klog.Flush()

	var rec map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &rec); err != nil {
		t.Fatalf("klog line is not one JSON record: %v: %q", err, buf.String())
	}
	if rec["component"] != "client-go" || rec["msg"] != "reflector started" || rec["resource"] != "leases" {
		t.Errorf("klog record = %v", rec)
	}
}
