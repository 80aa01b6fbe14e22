package main

import (
	"io"
	"log/slog"
	"math"
	"runtime/debug"
	"testing"

	"redprop/config"
)

// TestTuneGC checks that the configured target and limit are applied, and
// that GOGC and GOMEMLIMIT in the environment are left to win.
func TestTuneGC(t *testing.T) {
	oldPercent := debug.SetGCPercent(100)
	oldLimit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(oldPercent)
		debug.SetMemoryLimit(oldLimit)
	})
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	noEnv := func(string) (string, bool) { return "", false }
	cfg := config.Default()
	cfg.GCPercent, cfg.MemoryLimitMB = 300, 128

	if p, l := tuneGC(cfg, noEnv, log); p != 300 || l != 128 {
		t.Fatalf("applied %d %d", p, l)
	}
	if got := debug.SetGCPercent(100); got != 300 {
		t.Fatalf("GC percent %d, want 300", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 128<<20 {
		t.Fatalf("memory limit %d, want %d", got, 128<<20)
	}

	t.Run("no limit configured", func(t *testing.T) {
		cfg := cfg
		cfg.MemoryLimitMB = 0
		tuneGC(cfg, noEnv, log)
		if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
			t.Fatalf("memory limit %d, want none", got)
		}
	})
	t.Run("the environment wins", func(t *testing.T) {
		debug.SetGCPercent(150)
		debug.SetMemoryLimit(99 << 20)
		both := func(k string) (string, bool) { return "x", k == "GOGC" || k == "GOMEMLIMIT" }
		if p, l := tuneGC(cfg, both, log); p != -1 || l != -1 {
			t.Fatalf("applied %d %d under GOGC and GOMEMLIMIT", p, l)
		}
		if got := debug.SetGCPercent(100); got != 150 {
			t.Fatalf("GC percent %d, want the environment's 150", got)
		}
		if got := debug.SetMemoryLimit(-1); got != 99<<20 {
			t.Fatalf("memory limit %d, want the environment's", got)
		}
	})
}
