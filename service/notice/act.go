package notice

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/receipt"
)

// Read records that the actor opened the notice, for each of their
// households it was told to (the first read counts), and marks their
// inbox message read.
func (s *Service) Read(ctx context.Context, a *service.Actor, id int64) (View, error) {
	return s.mark(ctx, a, id, false)
}

// Confirm records that the actor's households confirmed a notice that
// asks for it (a water cut, a fire drill, a meter reading).
func (s *Service) Confirm(ctx context.Context, a *service.Actor, id int64) (View, error) {
	return s.mark(ctx, a, id, true)
}

func (s *Service) mark(ctx context.Context, a *service.Actor, id int64, confirm bool) (View, error) {
	n, st, err := s.load(ctx, a, id)
	if err != nil {
		return View{}, err
	}
	if confirm && !n.NeedsConfirm {
		return View{}, errNoConfirm
	}
	if n.State != model.NoticePublished {
		return View{}, errNotPublished
	}
	if len(st.told) == 0 {
		return View{}, receipt.ErrNotTold
	}
	todo, err := receipt.UnmarkedOf(ctx, s.db, []receipt.Subject{subject(id)}, st.told, a.UserID, confirm)
	if err != nil {
		return View{}, err
	}
	if len(todo) == 0 {
		// Read (and confirmed) already: nothing to write.
		return s.viewOf(ctx, n, st)
	}
	err = s.receipts.InTx(ctx, func(tx *gorm.DB) error {
		var err error
		if confirm {
			st.told, err = s.receipts.Confirm(ctx, tx, subject(id), a.UserID)
		} else {
			st.told, err = s.receipts.Read(ctx, tx, subject(id), a.UserID)
		}
		return err
	})
	if err != nil {
		return View{}, err
	}
	return s.viewOf(ctx, n, st)
}

// Withdraw takes a notice back, with a reason: a scheduled one is never
// published, a published one leaves the residents' lists and its pushes
// not yet sent are cancelled. It stays in the record as withdrawn, its
// receipts with it. The publisher's people and the overseeing staff may
// withdraw.
func (s *Service) Withdraw(ctx context.Context, a *service.Actor, id int64, reason string) (View, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > maxReason {
		return View{}, errReason
	}
	n, st, err := s.load(ctx, a, id)
	if err != nil {
		return View{}, err
	}
	if !st.manage {
		return View{}, errNotManager
	}
	if n.State == model.NoticeWithdrawn {
		return View{}, errWithdrawn
	}
	now := s.now()
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		set := map[string]any{"state": model.NoticeWithdrawn, "withdrawn_at": now, "withdrawn_by": a.UserID,
			"withdraw_reason": reason, "updated_at": now}
		moved, err := model.MoveNotice(ctx, tx, n.ID, n.State, n.Version, set)
		if err != nil {
			return err
		}
		if moved == 0 {
			return errMoved
		}
		if n.State == model.NoticePublished {
			return s.msgs.CancelScheduled(ctx, tx, subject(n.ID).Key())
		}
		return nil
	})
	if err != nil {
		return View{}, err
	}
	n.State, n.WithdrawnAt, n.WithdrawnBy, n.WithdrawReason, n.Version = model.NoticeWithdrawn, &now, a.UserID, reason, n.Version+1
	return s.viewOf(ctx, n, st)
}

// TellInPerson records that the building steward (or grid worker) told a
// household of a published notice at its door: who, when, note. It
// counts as reached. It answers the household's receipt as it is then.
func (s *Service) TellInPerson(ctx context.Context, a *service.Actor, id int64, in receipt.InPerson) (receipt.Detail, error) {
	n, _, err := s.load(ctx, a, id)
	if err != nil {
		return receipt.Detail{}, err
	}
	if n.State != model.NoticePublished {
		return receipt.Detail{}, errNotPublished
	}
	err = s.receipts.InTx(ctx, func(tx *gorm.DB) error {
		_, err := s.receipts.TellInPerson(ctx, tx, a, subject(id), in)
		return err
	})
	if err != nil {
		return receipt.Detail{}, err
	}
	return s.receipts.Of(ctx, subject(id), in.HouseholdID)
}

// tickBatch bounds the notices one pass publishes; the next goes on.
const tickBatch = 50

// Run publishes scheduled notices whose time has come, every interval,
// until ctx ends. Several instances may run it on one database: each
// notice is locked and its state checked before it is published, so it
// is published once.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	service.Every(ctx, every, func(ctx context.Context) {
		n, err := s.PublishDue(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.ErrorContext(ctx, "notice scheduler tick failed", "err", err)
		case n > 0:
			s.log.InfoContext(ctx, "notice scheduler tick", "published", n)
		}
	})
}

// PublishDue publishes the scheduled notices due by the clock's now and
// says how many this call published. A failing notice does not stop the
// others; the errors come back joined.
func (s *Service) PublishDue(ctx context.Context) (int, error) {
	now := s.now()
	due, err := model.DueNotices(ctx, s.db, now, tickBatch)
	if err != nil {
		return 0, err
	}
	var errs []error
	published := 0
	for _, d := range due {
		done := false
		err := model.InLongTx(ctx, s.db, publishBudget, func(tx *gorm.DB) error {
			done = false
			n, err := model.LockByID[model.Notice](ctx, tx, d.ID)
			if err != nil || n.State != model.NoticeScheduled {
				return err // published or withdrawn meanwhile
			}
			if err := s.publish(ctx, tx, &n, now); err != nil {
				return err
			}
			done = true
			return nil
		})
		switch {
		case errors.Is(err, errMoved):
		case err != nil:
			errs = append(errs, err)
		case done:
			published++
		}
	}
	return published, errors.Join(errs...)
}
