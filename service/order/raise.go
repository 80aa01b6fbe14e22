package order

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
)

// RaiseInput is an order another capability raises in its own step (a
// failed inspection item): it is filed by the actor for a public place of
// a compound and dispatched at once to the firm named, which must be the
// one serving the compound.
type RaiseInput struct {
	CategoryCode string
	CompoundID   int64
	FirmID       int64
	Description  string
	Place        string
	Due          *time.Time // the handler's deadline; nil: the category's budgets
	Role         string     // the capacity the actor acts in, for the timeline
	Note         string     // the dispatch row's note (where it came from)
}

// Raised is a raised order prepared outside any transaction (its number
// taken, its category and calendar read); Commit writes it inside the
// caller's.
type Raised struct {
	s     *Service
	o     model.Order
	cat   model.Category
	cal   *calendar.Calendar
	role  string
	note  string
	now   time.Time
	actor int64
	firm  int64
}

var (
	errRaiseCategory = service.Unprocessable("bad_category", "检查生成工单的类别不存在或已停用")
	errRaiseDesc     = service.Invalid("bad_description", "问题描述须为 1 到 1000 个字")
)

// PrepareRaise checks a raised order and reads what it needs before the
// caller's transaction (SQLite has one connection).
func (s *Service) PrepareRaise(ctx context.Context, a *service.Actor, in RaiseInput) (*Raised, error) {
	if a == nil {
		return nil, service.ErrUnauthenticated
	}
	in.Description, in.Place = strings.TrimSpace(in.Description), strings.TrimSpace(in.Place)
	if n := utf8.RuneCountInString(in.Description); n == 0 || n > 1000 {
		return nil, errRaiseDesc
	}
	in.Place = service.CutRunes(in.Place, 100)
	cat, err := model.CategoryByCode(ctx, s.db, in.CategoryCode)
	if errors.Is(err, model.ErrNotFound) || (err == nil && !cat.Active) {
		return nil, errRaiseCategory
	}
	if err != nil {
		return nil, err
	}
	comp, err := model.ByID[model.Compound](ctx, s.db, in.CompoundID)
	if err != nil {
		return nil, service.OrNotFound(err, service.NotFound("compound_not_found", "小区不存在"))
	}
	now := s.clock.Now().UTC()
	firm, err := contractedFirm(ctx, s.db, comp.ID, now)
	if err != nil {
		return nil, err
	}
	if firm == 0 || firm != in.FirmID {
		return nil, errHandlerFirm
	}
	if d := in.Due; d != nil && (!d.After(now) || d.After(now.AddDate(1, 0, 0))) {
		return nil, errDeadline
	}
	cal, err := s.workCalendar(ctx, cat)
	if err != nil {
		return nil, err
	}
	o := model.Order{CategoryID: cat.ID, CategoryCode: cat.Code, Channel: model.ChannelInspection, AuthorID: a.UserID,
		Place: in.Place, Description: in.Description, Ancestry: comp.Ancestry,
		State: model.StateVerified, Level: model.OrderLevelCommunity, Version: 1}
	if in.Due != nil {
		due := in.Due.UTC()
		o.DueAt = &due
	}
	if o.Number, err = s.numbers.take(ctx, now); err != nil {
		return nil, err
	}
	return &Raised{s: s, o: o, cat: cat, cal: cal, role: in.Role, note: service.CutRunes(in.Note, 500), now: now,
		actor: a.UserID, firm: firm}, nil
}

// Commit files the prepared order inside tx and dispatches it to the
// firm through the one move path; it returns the order as stored.
func (r *Raised) Commit(ctx context.Context, tx *gorm.DB) (model.Order, error) {
	s, o := r.s, r.o
	o.CreatedAt, o.UpdatedAt = r.now, r.now
	armStep(&o, r.cat, r.now, r.cal)
	if err := model.Create(ctx, tx, &o); err != nil {
		return o, err
	}
	if err := s.appendEvent(ctx, tx, &o, model.OrderEvent{Action: ActSubmit, ActorID: r.actor, Role: r.role,
		Note: o.Channel, CreatedAt: r.now}); err != nil {
		return o, err
	}
	next := o
	next.State, next.HandlerKind, next.HandlerID = model.StateDispatched, model.HandlerFirm, r.firm
	armStep(&next, r.cat, r.now, r.cal)
	m := &move{prev: o, next: next, now: r.now, action: ActDispatch, actorID: r.actor, role: r.role, note: r.note,
		events: []string{"dispatched"}}
	if err := s.move(ctx, tx, m); err != nil {
		return o, err
	}
	return m.next, nil
}
