// Package dashboard answers the officials' figures — orders by state,
// category and level, the rates with their numerators and denominators,
// times to accept and complete, escalations, emergency calls — per scope,
// child scope and day, from rollup rows that a refresh keeps up to date
// from the order timeline. No request reads the orders themselves, but
// for the count of orders overdue now, which is an indexed count of the
// open ones. It must not import gin or api/, nor the order package: it
// reads what the order loop wrote.
package dashboard

import (
	"io"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"redprop/service"
)

// Options tune the refresh.
type Options struct {
	// Lag is how old a timeline row after a hole in the ids must be before
	// the refresh passes the hole: a row numbered but not yet committed
	// (its transaction still running) leaves one for a moment, a rolled
	// back one for ever. It must exceed the longest transaction (the
	// database's transaction deadline). Default one minute.
	Lag time.Duration
	// Batch is how many timeline rows one refresh transaction counts
	// (default 2,000).
	Batch int
	Log   *slog.Logger
}

// Service is the dashboards capability.
type Service struct {
	db    *gorm.DB
	clock service.Clock
	opts  Options
	log   *slog.Logger
}

// New returns the service.
func New(db *gorm.DB, clock service.Clock, opts Options) *Service {
	if opts.Lag <= 0 {
		opts.Lag = time.Minute
	}
	if opts.Batch <= 0 {
		opts.Batch = 2000
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Service{db: db, clock: clock, opts: opts, log: log}
}
