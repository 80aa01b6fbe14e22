package auth

import (
	"context"
	"errors"
	"regexp"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// Scan login (扫码登录) of the PC console:
//
//	console ──NewTicket──▶ ticket (shown as a mini-program code) + poll secret (kept by the browser)
//	mini-program ──ConfirmTicket(its user's token)──▶ ticket confirmed by that login session
//	console ──ClaimTicket(ticket, poll secret)──▶ console session (a cookie), once
//
// A console session hangs from the mini-program session that confirmed
// it: AuthenticateConsole checks both in one statement, so logging out in
// the mini-program (or a replayed refresh token ending that session) ends
// the console at its next request, and a revoked grant stops acting at
// once through the same grants version as the API.

// Errors of scan login.
var (
	ErrTicketMissing   = service.NotFound("ticket_not_found", "登录二维码无效，请在电脑上刷新二维码")
	ErrTicketExpired   = service.Conflict("ticket_expired", "登录二维码已过期，请在电脑上刷新二维码")
	ErrTicketUsed      = service.Conflict("ticket_used", "该二维码已被确认，请在电脑上刷新二维码")
	ErrConsoleStaff    = service.Forbidden("console_staff_only", "电脑端仅供工作人员使用，您还没有任何工作角色")
	ErrConsoleMiniOnly = service.Forbidden("console_confirm_in_mini_program", "请在小程序中扫码确认登录")
	ErrConsoleSession  = service.Unauthorized("console_session_invalid", "电脑端登录已失效，请重新扫码登录")
)

// ticketShape is what NewTicket draws: WeChat's scene takes at most 32
// visible characters of a limited set; base64url fits.
var ticketShape = regexp.MustCompile(`^[A-Za-z0-9_-]{16,32}$`)

// Ticket is a new scan-login ticket: Ticket goes into the mini-program
// code, PollSecret only to the browser that asked (an HttpOnly cookie).
type Ticket struct {
	Ticket     string
	PollSecret string
	ExpiresAt  time.Time
	TTL        time.Duration // from now to ExpiresAt
}

// NewTicket draws a one-time login ticket.
func (s *Service) NewTicket(ctx context.Context) (Ticket, error) {
	now := s.clock.Now()
	t := Ticket{Ticket: randomToken(16), PollSecret: randomToken(24), ExpiresAt: now.Add(s.cfg.ConsoleTicketTTL),
		TTL: s.cfg.ConsoleTicketTTL}
	err := model.Create(ctx, s.db, &model.ConsoleTicket{Ticket: t.Ticket, PollHash: digest(t.PollSecret),
		CreatedAt: now, ExpiresAt: t.ExpiresAt})
	return t, err
}

// ConfirmTicket lets the mini-program's user log the console in: the
// actor must come with a mini-program token and hold at least one grant.
func (s *Service) ConfirmTicket(ctx context.Context, a *service.Actor, ticket string) error {
	if a == nil {
		return service.ErrUnauthenticated
	}
	if a.Family == "" {
		return ErrConsoleMiniOnly
	}
	if len(a.Grants) == 0 {
		return ErrConsoleStaff
	}
	if !ticketShape.MatchString(ticket) {
		return ErrTicketMissing
	}
	now := s.clock.Now()
	ok, err := model.ConfirmConsoleTicket(ctx, s.db, ticket, a.UserID, a.Family, now)
	if err != nil || ok {
		return err
	}
	t, err := model.ConsoleTicketByID(ctx, s.db, ticket)
	switch {
	case errors.Is(err, model.ErrNotFound):
		return ErrTicketMissing
	case err != nil:
		return err
	case t.ConfirmedAt != nil && t.UserID == a.UserID && t.Family == a.Family:
		return nil // the same phone confirming twice (a double tap, a lost answer)
	case t.ConfirmedAt != nil:
		return ErrTicketUsed
	}
	return ErrTicketExpired
}

// Ticket states a poll reads.
const (
	TicketPending   = "pending"   // not confirmed yet
	TicketConfirmed = "confirmed" // confirmed and claimed now: the session is in the claim
	TicketExpired   = "expired"   // expired, already claimed, or unknown to this browser
)

// Claim is what a console's poll gets.
type Claim struct {
	State     string
	Session   string // the console session's cookie value, set when State is confirmed
	ExpiresAt time.Time
	TTL       time.Duration // from now to ExpiresAt
	UserID    int64
}

// ClaimTicket is the console's poll: a ticket confirmed from the
// mini-program turns into a console session, once, for the browser that
// holds the ticket's poll secret. Anyone else learns nothing: an unknown
// ticket, a wrong secret and a spent ticket all read as expired.
func (s *Service) ClaimTicket(ctx context.Context, ticket, pollSecret string) (Claim, error) {
	if !ticketShape.MatchString(ticket) || pollSecret == "" || len(pollSecret) > 64 {
		return Claim{State: TicketExpired}, nil
	}
	t, err := model.ConsoleTicketByID(ctx, s.db, ticket)
	if errors.Is(err, model.ErrNotFound) {
		return Claim{State: TicketExpired}, nil
	}
	if err != nil {
		return Claim{}, err
	}
	now := s.clock.Now()
	switch {
	case t.PollHash != digest(pollSecret), t.ClaimedAt != nil, !now.Before(t.ExpiresAt):
		return Claim{State: TicketExpired}, nil
	case t.ConfirmedAt == nil:
		return Claim{State: TicketPending}, nil
	}
	c := Claim{State: TicketConfirmed, Session: randomToken(32), UserID: t.UserID, ExpiresAt: now.Add(s.cfg.ConsoleSessionTTL),
		TTL: s.cfg.ConsoleSessionTTL}
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		ok, err := model.ClaimConsoleTicket(ctx, tx, ticket, now)
		if err != nil {
			return err
		}
		if !ok {
			return errTicketSpent
		}
		return model.Create(ctx, tx, &model.ConsoleSession{Hash: digest(c.Session), UserID: t.UserID, Family: t.Family,
			CreatedAt: now, ExpiresAt: c.ExpiresAt})
	})
	if errors.Is(err, errTicketSpent) {
		return Claim{State: TicketExpired}, nil
	}
	if err != nil {
		return Claim{}, err
	}
	return c, nil
}

// CheckTicket tells whether ticket is a live, unclaimed ticket drawn for
// the browser holding pollSecret: the console draws the mini-program code
// of that browser's own ticket only, so nobody spends the account's daily
// quota of codes on scenes of their choosing.
func (s *Service) CheckTicket(ctx context.Context, ticket, pollSecret string) error {
	if !ticketShape.MatchString(ticket) || pollSecret == "" || len(pollSecret) > 64 {
		return ErrTicketMissing
	}
	t, err := model.ConsoleTicketByID(ctx, s.db, ticket)
	switch {
	case errors.Is(err, model.ErrNotFound):
		return ErrTicketMissing
	case err != nil:
		return err
	case t.PollHash != digest(pollSecret):
		return ErrTicketMissing
	case t.ClaimedAt != nil || !s.clock.Now().Before(t.ExpiresAt):
		return ErrTicketExpired
	}
	return nil
}

// errTicketSpent: a concurrent poll claimed the ticket first.
var errTicketSpent = errors.New("console ticket claimed by a concurrent poll")

// AuthenticateConsole verifies a console session cookie and loads the
// user's live grants, the same way Authenticate does for a token.
func (s *Service) AuthenticateConsole(ctx context.Context, session string) (*service.Actor, error) {
	if session == "" || len(session) > 64 {
		return nil, ErrConsoleSession
	}
	chk, err := model.CheckConsoleSession(ctx, s.db, digest(session), s.clock.Now())
	if errors.Is(err, model.ErrNotFound) {
		return nil, ErrConsoleSession
	}
	if err != nil {
		return nil, err
	}
	if !chk.Live {
		return nil, ErrConsoleSession
	}
	ac, err := s.grants.load(ctx, s.db, chk.UserID, chk.GrantsVersion)
	if err != nil {
		return nil, err
	}
	return ac.actor(chk.UserID), nil
}

// EndConsole logs a console session out.
func (s *Service) EndConsole(ctx context.Context, session string) error {
	if session == "" || len(session) > 64 {
		return nil
	}
	return model.RevokeConsoleSession(ctx, s.db, digest(session), s.clock.Now())
}
