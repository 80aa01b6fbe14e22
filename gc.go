package main

import (
	"log/slog"
	"math"
	"runtime/debug"

	"redprop/config"
)

// tuneGC sets the collector's target and soft memory limit from cfg,
// leaving each to the environment when GOGC or GOMEMLIMIT is set there
// (the runtime has read those already). It returns what it set: -1 for
// what it left alone (a GCPercent of 0 leaves Go's default).
func tuneGC(cfg config.Config, lookupEnv func(string) (string, bool), log *slog.Logger) (percent int, limitMB int) {
	percent, limitMB = -1, -1
	if _, set := lookupEnv("GOGC"); !set && cfg.GCPercent > 0 {
		debug.SetGCPercent(cfg.GCPercent)
		percent = cfg.GCPercent
	}
	if _, set := lookupEnv("GOMEMLIMIT"); !set {
		limit := int64(math.MaxInt64) // the runtime's "no limit"
		if cfg.MemoryLimitMB > 0 {
			limit = int64(cfg.MemoryLimitMB) << 20
		}
		debug.SetMemoryLimit(limit)
		limitMB = cfg.MemoryLimitMB
	}
	// SetMemoryLimit with a negative value only reads it.
	log.Info("garbage collector", "gc_percent", percent, "memory_limit_bytes", debug.SetMemoryLimit(-1),
		"from_env", percent < 0 || limitMB < 0)
	return percent, limitMB
}
