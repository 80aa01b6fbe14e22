package order

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// A phone on a bad network sends an action again when the answer to the
// first did not arrive. Such a repeat must not act twice: a second
// dispatch would push the firm again and restart the step's clock. A
// repeat is recognised from the order itself, so it holds across
// instances and restarts and needs no Idempotency-Key:
//
//   - the order's current step is the person's own act: its last timeline
//     row, looking past the rows that stand aside a step (the scheduler's
//     warning and overdue mark, a 督办), is this action by this person;
//   - the order is still where that row left it (state and level);
//   - the input names what the order now holds, for each target of the
//     action in the steps table (the handler and due date of a dispatch,
//     the worker of an assign, the rating of a rate …). A note or reason
//     is no target: a repeat with other words is still the same act.
//
// A repeat answers with the order as it is and writes nothing. A change
// of target is its own act and is taken (or refused) as before. Actions
// marked again in the table (督办, which has its own 10-minute rule) are
// never repeats.

// target is one thing an action's input names that the order holds once
// the action is taken: it reports whether the input of a second attempt
// names it again. c.prev is the order as it is now, last the row the
// first attempt wrote.
type target func(c *act, last *model.OrderEvent) (bool, error)

var (
	// sameHandler: the handler kind and id of a dispatch, an id of 0 read
	// as the kind's default as dispatch reads it.
	sameHandler target = func(c *act, _ *model.OrderEvent) (bool, error) {
		o, kind, id := &c.prev, c.in.HandlerKind, c.in.HandlerID
		if kind != o.HandlerKind {
			return false, nil
		}
		if id == 0 {
			switch kind {
			case model.HandlerFirm:
				firm, err := contractedFirm(c.ctx, c.db, o.CompoundID, c.now)
				if err != nil {
					return false, err
				}
				id = firm
			case model.HandlerVolunteer:
				id = o.CommunityID
			case model.HandlerGrid:
				id = o.GridID
			}
		}
		return id == o.HandlerID, nil
	}
	// sameDeadline: the dispatcher's due date (or none).
	sameDeadline target = func(c *act, _ *model.OrderEvent) (bool, error) {
		d, due := c.in.Deadline, c.prev.DueAt
		if d == nil || due == nil {
			return d == nil && due == nil, nil
		}
		// The database keeps whole milliseconds at best.
		return d.UTC().Truncate(time.Millisecond).Equal(due.UTC().Truncate(time.Millisecond)), nil
	}
	sameWorker target = func(c *act, _ *model.OrderEvent) (bool, error) {
		return c.in.WorkerID == c.prev.AssigneeID, nil
	}
	sameDuplicate target = func(c *act, _ *model.OrderEvent) (bool, error) {
		return c.in.DuplicateOf == c.prev.DuplicateOf, nil
	}
	sameRating target = func(c *act, _ *model.OrderEvent) (bool, error) {
		o, in := &c.prev, c.in
		return in.Overall == o.RatingOverall && in.Timeliness == o.RatingTimely && in.Attitude == o.RatingAttitude &&
			strings.TrimSpace(in.Comment) == o.RatingComment, nil
	}
	// sameReopen: a 回访 that reopened the order, or one that did not.
	sameReopen target = func(c *act, _ *model.OrderEvent) (bool, error) {
		return c.in.Reopen == (c.prev.State != model.StateClosed), nil
	}
	// sameNote: a progress note is its own target: another text is
	// another note, the same text and photos again is the retry.
	sameNote target = func(c *act, last *model.OrderEvent) (bool, error) {
		return last.Note == service.CutRunes(strings.TrimSpace(c.in.Note), 500) && last.Photos == joinIDs(c.in.PhotoIDs), nil
	}
	// fromLevel: an escalation names no level; it is a repeat only while
	// the person does not hold the level the order is at now. One who
	// holds it too escalates again from there, as a new act.
	fromLevel target = func(c *act, _ *model.OrderEvent) (bool, error) {
		_, holds := capacityOf(c.by, &c.prev, capLevelHolder)
		return !holds, nil
	}
)

// asideSteps are the actions whose rows a repeat looks past.
var asideSteps = func() []string {
	var out []string
	for _, a := range slices.Sorted(maps.Keys(steps)) {
		if steps[a].aside {
			out = append(out, a)
		}
	}
	return out
}()

// repeated reports whether by taking action on o (as read through db) with
// in repeats their own last act on it (see above); it writes nothing.
func (s *Service) repeated(ctx context.Context, db *gorm.DB, by doer, o model.Order, action string, in Input) (bool, error) {
	st, ok := steps[action]
	if !ok || by.system || st.again {
		return false, nil
	}
	last, found, err := model.LastOrderStep(ctx, db, o.ID, asideSteps)
	if err != nil || !found {
		return false, err
	}
	if last.Action != action || last.ActorID != by.userID() || last.ToState != o.State || last.ToLevel != o.Level {
		return false, nil
	}
	if !st.unseen && !canSee(by.actor, &o) {
		return false, nil
	}
	// An act that took the order out of sight (退单) is a repeat only for
	// someone who still holds the role they did it in: a revoked manager
	// learns nothing of the order from a 200.
	if st.unseen && (by.actor == nil || !by.actor.Has(last.Role)) {
		return false, nil
	}
	c := &act{action: action, ctx: ctx, db: db, by: by, in: in, prev: o, next: o, now: s.clock.Now().UTC()}
	for _, t := range st.same {
		if ok, err := t(c, &last); err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// isConflict reports a lost compare-and-set or a wrong state.
func isConflict(err error) bool {
	var se *service.Error
	return errors.As(err, &se) && se.Code == "state_conflict"
}
