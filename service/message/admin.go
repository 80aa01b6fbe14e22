package message

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"redprop/model"
	"redprop/service"
)

// ErrBadOutboxState is an unknown state filter.
var ErrBadOutboxState = service.Invalid("bad_state", "状态筛选值不正确")

// reviewerRoles see the texts flagged within their scope, of one of the
// kinds of reviewScope.
var (
	reviewerRoles = []string{model.RoleCommunityStaff, model.RoleStreetStaff, model.RoleDistrictStaff, model.RoleCityStaff}
	reviewScope   = map[string]bool{model.ScopeCity: true, model.ScopeDistrict: true, model.ScopeStreet: true, model.ScopeCommunity: true}
)

func adminOnly(a *service.Actor) error {
	if a == nil {
		return service.ErrUnauthenticated
	}
	if !a.IsAdmin() {
		return service.ErrForbidden
	}
	return nil
}

// SandboxPushes lists what the sandbox would have pushed, newest first,
// for platform admins; userID filters by recipient when not 0.
func (s *Service) SandboxPushes(ctx context.Context, a *service.Actor, userID int64, p service.Page) (service.Paged[model.SandboxPush], error) {
	if err := adminOnly(a); err != nil {
		return service.Paged[model.SandboxPush]{}, err
	}
	rows, err := model.SandboxPushes(ctx, s.db, userID, p.After, p.Limit+1)
	if err != nil {
		return service.Paged[model.SandboxPush]{}, fmt.Errorf("list sandbox pushes: %w", err)
	}
	return service.Cut(rows, p.Limit), nil
}

var outboxStates = []string{
	model.OutboxPending, outboxClaimed, model.OutboxSending, model.OutboxSent, model.OutboxSkipped,
	model.OutboxFailed, model.OutboxDead, model.OutboxUnknown, model.OutboxCancelled,
}

// Outbox lists outbox rows, newest first, for platform admins; state
// filters when not empty.
func (s *Service) Outbox(ctx context.Context, a *service.Actor, state string, p service.Page) (service.Paged[model.Outbox], error) {
	if err := adminOnly(a); err != nil {
		return service.Paged[model.Outbox]{}, err
	}
	if state != "" && !slices.Contains(outboxStates, state) {
		return service.Paged[model.Outbox]{}, ErrBadOutboxState
	}
	rows, err := model.OutboxRows(ctx, s.db, state, p.After, p.Limit+1)
	if err != nil {
		return service.Paged[model.Outbox]{}, fmt.Errorf("list outbox: %w", err)
	}
	return service.Cut(rows, p.Limit), nil
}

// ContentChecks lists flagged or pending texts, newest first, for
// platform admins; state filters when not empty.
func (s *Service) ContentChecks(ctx context.Context, a *service.Actor, state string, p service.Page) (service.Paged[model.ContentCheck], error) {
	if a == nil {
		return service.Paged[model.ContentCheck]{}, service.ErrUnauthenticated
	}
	var within []model.Place // nil: every place
	if !a.IsAdmin() {
		// The community (and the street and city above it) reviews what
		// was flagged in its own place.
		for _, g := range a.Grants {
			if reviewScope[g.ScopeKind] && slices.Contains(reviewerRoles, g.Role) {
				within = append(within, model.Place{Kind: g.ScopeKind, ID: g.ScopeID})
			}
		}
		if len(within) == 0 {
			return service.Paged[model.ContentCheck]{}, service.ErrForbidden
		}
	}
	if state != "" && !slices.Contains([]string{model.CheckPending, model.CheckPass, model.CheckReview, model.CheckRisky}, state) {
		return service.Paged[model.ContentCheck]{}, ErrBadOutboxState
	}
	rows, err := model.ContentChecks(ctx, s.db, within, state, p.After, p.Limit+1)
	if err != nil {
		return service.Paged[model.ContentCheck]{}, fmt.Errorf("list content checks: %w", err)
	}
	return service.Cut(rows, p.Limit), nil
}

// Metrics are the delivery counts. The totals come from the database, so
// they cover every instance; Process counts this instance since start,
// including every failed attempt (the database keeps only a row's last).
type Metrics struct {
	Sent          int64
	SentByChannel map[string]int64 // mp, oa
	Skipped       map[string]int64 // by reason
	Failed        map[string]int64 // rows now failed or dead, by last error code
	Dead          int64
	Unknown       int64 // outcome lost; not sent again unless the kind resends
	Stale         int64 // leases lost while sending, ever (unknown or resent)
	Waiting       int64 // pending, failed (to retry) and claimed
	Sending       int64
	Cancelled     int64
	// Lag is the age of the oldest row that is due and not yet taken.
	Lag time.Duration

	ChecksPending int64 // texts waiting for WeChat's check
	ChecksFlagged int64 // texts flagged review or risky

	Process ProcessCounts
}

// ProcessCounts are this instance's counters since start.
type ProcessCounts struct {
	Sent          int64
	SentByChannel map[string]int64
	Skipped       map[string]int64
	Failed        map[string]int64 // every failed attempt by code
	Dead          int64
	Unknown       int64
	Requeued      int64
}

// Metrics reads the delivery counts, for platform admins: the whole
// history's (sent, skipped, cancelled, leases lost) with the rows still
// on their way.
func (s *Service) Metrics(ctx context.Context, a *service.Actor) (Metrics, error) {
	if err := adminOnly(a); err != nil {
		return Metrics{}, err
	}
	return s.metricsNow(ctx, true)
}

// MetricsSnapshot reads the delivery counts for the metrics endpoint,
// which guards itself (a scraper is no user). It counts only the rows
// still on their way or stuck (waiting, sending, unknown, dead), off an
// index: a city's outbox holds millions of settled rows, and a scrape
// every few seconds must not read them. Throughput is the process
// counters' (Process), summed over instances by the scraper.
func (s *Service) MetricsSnapshot(ctx context.Context) (Metrics, error) {
	return s.metricsNow(ctx, false)
}

// liveStates are the outbox states a scrape counts.
var liveStates = []string{model.OutboxPending, model.OutboxFailed, outboxClaimed, model.OutboxSending,
	model.OutboxUnknown, model.OutboxDead}

func (s *Service) metricsNow(ctx context.Context, history bool) (Metrics, error) {
	m := Metrics{SentByChannel: map[string]int64{}, Skipped: map[string]int64{}, Failed: map[string]int64{}}
	var states []string
	if !history {
		states = liveStates
	}
	byState, err := model.CountOutbox(ctx, s.db, states...)
	if err != nil {
		return m, fmt.Errorf("count outbox: %w", err)
	}
	for _, r := range byState {
		m.Stale += r.Stale
		switch r.State {
		case model.OutboxSent:
			m.Sent += r.N
			m.SentByChannel[r.Channel] += r.N
		case model.OutboxSkipped:
			m.Skipped[r.SkipReason] += r.N
		case model.OutboxDead:
			m.Dead += r.N
		case model.OutboxUnknown:
			m.Unknown += r.N
		case model.OutboxPending, model.OutboxFailed, outboxClaimed:
			m.Waiting += r.N
		case model.OutboxSending:
			m.Sending += r.N
		case model.OutboxCancelled:
			m.Cancelled += r.N
		}
	}
	if m.Failed, err = model.CountOutboxCodes(ctx, s.db, []string{model.OutboxFailed, model.OutboxDead}); err != nil {
		return m, fmt.Errorf("count outbox failures: %w", err)
	}
	now := s.clock.Now().UTC()
	oldest, err := model.OldestDue(ctx, s.db, []string{model.OutboxPending, model.OutboxFailed}, now)
	switch {
	case err == nil:
		m.Lag = now.Sub(oldest)
	case !errors.Is(err, model.ErrNotFound):
		return m, fmt.Errorf("outbox lag: %w", err)
	}
	if m.ChecksPending, err = model.CountContentChecks(ctx, s.db, model.CheckPending); err != nil {
		return m, err
	}
	if m.ChecksFlagged, err = model.CountContentChecks(ctx, s.db, model.CheckReview, model.CheckRisky); err != nil {
		return m, err
	}
	s.metrics.add(func(c *counters) {
		m.Process = ProcessCounts{Sent: c.sent, SentByChannel: maps.Clone(c.sentBy), Skipped: maps.Clone(c.skipped),
			Failed: maps.Clone(c.failed), Dead: c.dead, Unknown: c.unknown, Requeued: c.requeued}
	})
	return m, nil
}
