package action

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// Input carries what the transitions take; each reads only its own
// fields.
type Input struct {
	Note     string  // claim, verify: an optional note for the history
	Evidence string  // done: what was put right (required)
	PhotoIDs []int64 // done: evidence photos the actor uploaded
	Reason   string  // send_back: why the work is not accepted (required)
}

// who may take a transition.
type who int

const (
	byMember    who = iota + 1 // a member of the owner organisation
	byOrganiser                // the item's organiser
)

// move is one transition of the table.
type move struct {
	from []string
	to   string
	by   who
	run  func(c *change) error
}

// moves is the transition table: open → claimed → done → verified, and
// done → claimed when the organiser sends the work back.
var moves = map[string]move{
	ActClaim:    {[]string{model.ActionOpen}, model.ActionClaimed, byMember, claim},
	ActDone:     {[]string{model.ActionClaimed}, model.ActionDone, byMember, done},
	ActVerify:   {[]string{model.ActionDone}, model.ActionVerified, byOrganiser, verify},
	ActSendBack: {[]string{model.ActionDone}, model.ActionClaimed, byOrganiser, sendBack},
}

// Transitions lists the endpoints' actions.
func Transitions() []string { return slices.Sorted(maps.Keys(moves)) }

var (
	errOwnWork  = service.Forbidden("own_work", "不能验收或退回自己办结的整改事项")
	errAction   = service.Invalid("bad_action", "未知的整改事项操作")
	errNote     = service.Invalid("bad_note", "说明不能超过 500 个字")
	errEvidence = service.Invalid("evidence_required", "请填写整改情况（1 到 1000 个字）")
	errReason   = service.Invalid("reason_required", "请填写退回原因（1 到 200 个字）")
	errPhotoN   = service.Invalid("too_many_photos", "整改照片最多 9 张")
	errPhotoID  = service.Invalid("bad_photo_id", "照片编号不正确")
)

// change is one transition in flight, inside its transaction.
type change struct {
	ctx  context.Context
	tx   *gorm.DB
	a    *service.Actor
	in   Input
	prev model.ActionItem
	next model.ActionItem
	now  time.Time
	note string
	pics string
}

// Act takes one transition on an item for the actor. The item row is
// locked by its primary key, so of two racing claimers one wins and the
// other gets 409 with the state the winner left.
func (s *Service) Act(ctx context.Context, a *service.Actor, id int64, action string, in Input) (View, error) {
	mv, ok := moves[action]
	if !ok {
		return View{}, errAction
	}
	if a == nil {
		return View{}, service.ErrUnauthenticated
	}
	if err := checkInput(action, &in); err != nil {
		return View{}, err
	}
	now := s.clock.Now().UTC()
	err := model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		it, err := lock(ctx, tx, id)
		if err != nil {
			return err
		}
		rel, err := s.relationOf(ctx, tx, a, &it)
		if err != nil {
			return err
		}
		if !rel.sees() {
			return errItemHidden
		}
		// The same person sending the same transition again (a retry on
		// a bad network, or two copies at once: the row is locked) gets
		// the item as it is: its last step is their own act. Evidence,
		// reason and note are no target; nothing is written.
		if it.State == mv.to {
			last, found, err := model.LastActionItemStep(ctx, tx, it.ID, []string{ActOverdue})
			if err != nil {
				return err
			}
			if found && last.Action == action && last.ActorID == a.UserID {
				return nil
			}
		}
		role := ""
		switch mv.by {
		case byMember:
			if role = rel.member; role == "" {
				return errNotMember
			}
		case byOrganiser:
			// Nobody verifies or sends back their own work.
			if it.DoneBy != 0 && it.DoneBy == a.UserID {
				return errOwnWork
			}
			role = "organiser"
			if !rel.organiser {
				// When the organiser cannot (they did the work, or no
				// longer hold a ledger role over the item), another
				// holder of one steps in, so that no item stays undecided.
				stuck, err := s.organiserCannot(ctx, tx, &it)
				if err != nil {
					return err
				}
				if !stuck || rel.ledger == "" {
					return errNotOrganiser
				}
				role = rel.ledger
			}
		}
		if !slices.Contains(mv.from, it.State) {
			return conflict(it)
		}
		c := &change{ctx: ctx, tx: tx, a: a, in: in, prev: it, next: it, now: now}
		c.next.State = mv.to
		if err := mv.run(c); err != nil {
			return err
		}
		if err := update(ctx, tx, &c.prev, &c.next, now); err != nil {
			return err
		}
		ev := model.ActionItemEvent{Action: action, ActorID: a.UserID, Role: role, FromState: c.prev.State,
			ToState: c.next.State, Note: c.note, Photos: c.pics, CreatedAt: now}
		if err := appendEvent(ctx, tx, &c.next, ev); err != nil {
			return err
		}
		return s.notify(ctx, tx, &c.next, action)
	})
	if err != nil {
		return View{}, err
	}
	return s.Get(ctx, a, id)
}

// checkInput validates what needs no database.
func checkInput(action string, in *Input) error {
	in.Note, in.Evidence, in.Reason = strings.TrimSpace(in.Note), strings.TrimSpace(in.Evidence), strings.TrimSpace(in.Reason)
	if utf8.RuneCountInString(in.Note) > 500 {
		return errNote
	}
	switch action {
	case ActDone:
		if n := utf8.RuneCountInString(in.Evidence); n == 0 || n > 1000 {
			return errEvidence
		}
		if len(in.PhotoIDs) > 9 {
			return errPhotoN
		}
		for _, id := range in.PhotoIDs {
			if id <= 0 {
				return errPhotoID
			}
		}
	case ActSendBack:
		if n := utf8.RuneCountInString(in.Reason); n == 0 || n > 200 {
			return errReason
		}
	}
	return nil
}

func claim(c *change) error {
	c.next.ClaimedBy, c.next.ClaimedAt = c.a.UserID, &c.now
	c.note = c.in.Note
	return nil
}

func done(c *change) error {
	ids := slices.Clone(c.in.PhotoIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) > 0 {
		own, err := model.OwnPhotoIDs(c.ctx, c.tx, c.a.UserID, ids)
		if err != nil {
			return err
		}
		if len(own) != len(ids) {
			// One message for both: a stranger's photo id must not be told apart from a wrong one.
			return service.Unprocessable("photo_unavailable", "照片不存在或不是您上传的，请重新上传")
		}
	}
	c.pics = joinIDs(ids)
	c.next.DoneBy, c.next.DoneAt = c.a.UserID, &c.now
	c.next.Evidence, c.next.Photos = c.in.Evidence, c.pics
	// Work finished after the due date counts as overdue even when the
	// scheduler did not get to it first.
	if !c.next.Overdue && !c.now.Before(c.next.DueAt) {
		c.next.Overdue, c.next.OverdueAt = true, &c.now
	}
	c.note = c.in.Evidence
	if c.in.Note != "" {
		c.note = c.in.Evidence + "；" + c.in.Note
	}
	return nil
}

func verify(c *change) error {
	c.next.VerifiedBy, c.next.VerifiedAt = c.a.UserID, &c.now
	c.note = c.in.Note
	return nil
}

// sendBack returns the work to the claimer. The evidence leaves the item
// (the history keeps it) so that the ledger never shows a done time for
// work that was not accepted.
func sendBack(c *change) error {
	c.next.DoneBy, c.next.DoneAt, c.next.Evidence, c.next.Photos = 0, nil, "", ""
	c.next.SendBacks++
	c.note = c.in.Reason
	if c.in.Note != "" {
		c.note = c.in.Reason + "；" + c.in.Note
	}
	return nil
}

// update writes the columns a transition changed on the locked row and
// bumps the version.
func update(ctx context.Context, tx *gorm.DB, prev, next *model.ActionItem, now time.Time) error {
	n, err := model.UpdateActionItem(ctx, tx, prev, next, now)
	if err != nil {
		return fmt.Errorf("update action item %d: %w", prev.ID, err)
	}
	if n != 1 {
		// The row is locked: anything but one row is a broken invariant.
		return fmt.Errorf("update action item %d: %d rows", prev.ID, n)
	}
	next.Version, next.UpdatedAt = prev.Version+1, now
	return nil
}

// appendEvent inserts one history row (never updates or deletes).
func appendEvent(ctx context.Context, tx *gorm.DB, it *model.ActionItem, ev model.ActionItemEvent) error {
	ev.ID = 0
	ev.ItemID = it.ID
	ev.Note = service.CutRunes(ev.Note, 1000)
	if err := model.AppendActionEvent(ctx, tx, &ev); err != nil {
		return fmt.Errorf("append action item event: %w", err)
	}
	return nil
}

func joinIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ",")
}

func splitIDs(s string) []int64 {
	out := []int64{}
	for _, p := range strings.Split(s, ",") {
		if id, err := strconv.ParseInt(p, 10, 64); err == nil && id > 0 {
			out = append(out, id)
		}
	}
	return out
}

// organiserCannot reports whether the item's organiser cannot verify it:
// they did the work themselves, or hold no ledger role over it any more.
func (s *Service) organiserCannot(ctx context.Context, tx *gorm.DB, it *model.ActionItem) (bool, error) {
	if it.DoneBy == it.OrganiserID {
		return true, nil
	}
	gs, err := model.LiveGrants(ctx, tx, it.OrganiserID)
	if err != nil {
		return false, err
	}
	org := &service.Actor{UserID: it.OrganiserID, Grants: gs}
	return !org.Can(itemTarget(it), ledgerRoles...), nil
}
