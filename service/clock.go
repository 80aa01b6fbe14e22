package service

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"redprop/model"
)

// FakeClock is a settable clock for tests and the benchmark.
type FakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewFakeClock starts at t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{now: t.UTC()} }

// Now returns the fake time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t.UTC()
	c.mu.Unlock()
}

// Every runs pass at once and then every interval (a minute when not
// positive) until ctx ends: the loop of each background scheduler.
func Every(ctx context.Context, every time.Duration, pass func(ctx context.Context)) {
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		pass(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// LogPass logs what failed in one pass of a background loop. Instances
// sharing a MySQL database sometimes deadlock on each other's rows; the
// victim (1213) was rolled back whole and the next pass takes it up again,
// so a failure made only of deadlocks is an info line, not an error.
func LogPass(ctx context.Context, log *slog.Logger, msg string, err error) {
	if onlyDeadlocks(err) {
		log.InfoContext(ctx, msg+": deadlock victim, taken up again by the next pass", "err", err)
		return
	}
	log.ErrorContext(ctx, msg, "err", err)
}

// onlyDeadlocks reports whether every error joined in err is a deadlock.
func onlyDeadlocks(err error) bool {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs := j.Unwrap()
		for _, e := range errs {
			if !onlyDeadlocks(e) {
				return false
			}
		}
		return len(errs) > 0
	}
	return model.IsDeadlock(err)
}
