package meeting

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/message"
)

var (
	errNoInvitees = service.Unprocessable("no_participants", "请先添加参会人或参会群体")
	errNobody     = service.Unprocessable("no_participants", "参会群体中没有任何成员，请添加参会人")
	errTooEarly   = service.Unprocessable("too_early", "会议开始前 1 小时内才能开始会议和签到")
	errReason     = service.Invalid("bad_reason", "取消原因不能超过 200 个字")
)

// transition moves the locked meeting m to state, with the columns set
// changes, comparing its state (zero rows: someone else moved it first).
func transition(ctx context.Context, tx *gorm.DB, m *model.Meeting, to string, now time.Time, verb string, set func(next *model.Meeting)) error {
	next := *m
	next.State, next.UpdatedAt = to, now
	if set != nil {
		set(&next)
	}
	n, err := model.MoveMeeting(ctx, tx, &next, m.State)
	if err != nil {
		return err
	}
	if n == 0 {
		return stateConflict(m, verb)
	}
	*m = next
	return nil
}

// fanOutBudget bounds the transaction of a manager's act: scheduling,
// moving or cancelling a meeting of a big compound writes a notice for
// every participant (thousands) in it.
const fanOutBudget = 2 * time.Minute

// act runs fn on the meeting locked inside one transaction, for a manager,
// and returns the meeting's view afterwards.
func (s *Service) act(ctx context.Context, a *service.Actor, id int64, fn func(tx *gorm.DB, m *model.Meeting, now time.Time) error) (View, error) {
	if _, err := s.manage(ctx, a, id); err != nil {
		return View{}, err
	}
	err := model.InLongTx(ctx, s.db, fanOutBudget, func(tx *gorm.DB) error {
		m, err := lock(ctx, tx, id)
		if err != nil {
			return err
		}
		return fn(tx, &m, s.clock.Now().UTC())
	})
	if err != nil {
		return View{}, err
	}
	return s.Get(ctx, a, id)
}

// Schedule sends a draft meeting: its groups expand into participants,
// every participant gets one notice, and the reminders are armed.
func (s *Service) Schedule(ctx context.Context, a *service.Actor, id int64) (View, error) {
	return s.act(ctx, a, id, func(tx *gorm.DB, m *model.Meeting, now time.Time) error {
		if m.State != model.MeetingDraft {
			return stateConflict(m, "发出通知")
		}
		if err := checkWhen(m.StartsAt, m.EndsAt, now); err != nil {
			return err
		}
		groups, err := model.CountMeetingGroups(ctx, tx, m.ID)
		if err != nil {
			return err
		}
		people, err := model.CountParticipants(ctx, tx, m.ID, 0)
		if err != nil {
			return err
		}
		if groups == 0 && people == 0 {
			return errNoInvitees
		}
		if err := s.expand(ctx, tx, m, now); err != nil {
			return err
		}
		if people == 0 {
			if people, err = model.CountParticipants(ctx, tx, m.ID, 0); err != nil {
				return err
			}
			if people == 0 {
				return errNobody
			}
		}
		if err := transition(ctx, tx, m, model.MeetingScheduled, now, "发出通知", func(next *model.Meeting) {
			next.ScheduledAt = &now
		}); err != nil {
			return err
		}
		evs := append([]message.Event{s.notice(m, noticeScheduled, "")}, s.reminders(m, now)...)
		return s.tell(ctx, tx, m.ID, 0, evs...)
	})
}

// Hold opens a scheduled meeting (from HoldLead before its start): the
// reminders still waiting are withdrawn and a sign-in code is made, valid
// until the meeting's end.
func (s *Service) Hold(ctx context.Context, a *service.Actor, id int64) (View, error) {
	return s.act(ctx, a, id, func(tx *gorm.DB, m *model.Meeting, now time.Time) error {
		if m.State != model.MeetingScheduled {
			return stateConflict(m, "开始会议")
		}
		if now.Before(m.StartsAt.Add(-s.opts.HoldLead)) {
			return errTooEarly
		}
		code, err := newCode()
		if err != nil {
			return err
		}
		if err := transition(ctx, tx, m, model.MeetingHeld, now, "开始会议", func(next *model.Meeting) {
			until := m.EndsAt
			next.HeldAt, next.SignInCode, next.SignInUntil = &now, code, &until
		}); err != nil {
			return err
		}
		return s.msgs.CancelScheduled(ctx, tx, cancelKey(m.ID))
	})
}

// Close ends a minuted meeting.
func (s *Service) Close(ctx context.Context, a *service.Actor, id int64) (View, error) {
	return s.act(ctx, a, id, func(tx *gorm.DB, m *model.Meeting, now time.Time) error {
		if m.State != model.MeetingMinuted {
			return stateConflict(m, "结束会议（请先发布会议纪要）")
		}
		return transition(ctx, tx, m, model.MeetingClosed, now, "结束会议", func(next *model.Meeting) {
			next.ClosedAt, next.SignInCode = &now, ""
		})
	})
}

// Cancel calls off a draft or scheduled meeting. Participants of a
// scheduled one are told, and its reminders are withdrawn so that none is
// ever sent.
func (s *Service) Cancel(ctx context.Context, a *service.Actor, id int64, reason string) (View, error) {
	reason = strings.TrimSpace(reason)
	if utf8.RuneCountInString(reason) > 200 {
		return View{}, errReason
	}
	return s.act(ctx, a, id, func(tx *gorm.DB, m *model.Meeting, now time.Time) error {
		was := m.State
		if was != model.MeetingDraft && was != model.MeetingScheduled {
			return stateConflict(m, "取消")
		}
		if err := transition(ctx, tx, m, model.MeetingCancelled, now, "取消", func(next *model.Meeting) {
			next.CancelledAt, next.CancelReason = &now, reason
		}); err != nil {
			return err
		}
		if was == model.MeetingDraft {
			return nil
		}
		if err := s.msgs.CancelScheduled(ctx, tx, cancelKey(m.ID)); err != nil {
			return err
		}
		return s.tell(ctx, tx, m.ID, 0, s.notice(m, noticeCancelled, reason))
	})
}

// RotateCode replaces the sign-in code of a held meeting (a code that
// leaked beyond the venue).
func (s *Service) RotateCode(ctx context.Context, a *service.Actor, id int64) (View, error) {
	return s.act(ctx, a, id, func(tx *gorm.DB, m *model.Meeting, now time.Time) error {
		if m.State != model.MeetingHeld {
			return stateConflict(m, "更换签到码")
		}
		code, err := newCode()
		if err != nil {
			return err
		}
		return model.SetSignInCode(ctx, tx, m.ID, code, now)
	})
}

// CodeLength is the number of digits of a sign-in code.
const CodeLength = 6

// newCode is a random sign-in code of CodeLength digits.
func newCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("sign-in code: %w", err)
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}
