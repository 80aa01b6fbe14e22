package message

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"redprop/service"
)

// breaker stops the text check made while a resident waits from asking a
// WeChat that does not answer. Closed, it lets every check through and
// counts the failures in a row; at threshold it opens, and for openFor
// every check is deferred at once (stored pending, re-checked by the
// worker) instead of waiting out the timeout. Then it is half-open: one
// check goes through as a probe, its success closes the breaker, its
// failure opens it again. It is per process: each instance learns of an
// outage from its own calls.
type breaker struct {
	clock     service.Clock
	log       *slog.Logger
	threshold int
	openFor   time.Duration

	mu        sync.Mutex
	failures  int       // in a row
	openUntil time.Time // zero: closed
	probing   bool      // half-open and the probe is out
}

// allow reports whether a check may ask WeChat now.
func (b *breaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.openUntil.IsZero():
		return true
	case b.clock.Now().Before(b.openUntil) || b.probing:
		return false
	}
	b.probing = true
	return true
}

// record takes the outcome of a check allow let through: failed is true
// when WeChat did not answer (network, timeout), not when it answered
// with an error of its own.
func (b *breaker) record(ctx context.Context, failed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !failed {
		if !b.openUntil.IsZero() {
			b.log.InfoContext(ctx, "WeChat text check breaker closed: WeChat answers again")
		}
		b.failures, b.openUntil, b.probing = 0, time.Time{}, false
		return
	}
	b.failures++
	if b.probing || b.failures >= b.threshold {
		if b.openUntil.IsZero() {
			b.log.WarnContext(ctx, "WeChat text check breaker opened: checks are deferred",
				"failures", b.failures, "for", b.openFor.String())
		}
		b.openUntil, b.probing = b.clock.Now().Add(b.openFor), false
	}
}
