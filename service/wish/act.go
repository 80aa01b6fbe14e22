package wish

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/message"
	"redprop/service/photo"
)

// Actions on a wish.
const (
	ActClaim    = "claim"    // open → claimed, by a party member or volunteer
	ActRelease  = "release"  // claimed → open, by its claimer who cannot make it
	ActFulfil   = "fulfil"   // claimed → fulfilled, by its claimer, with photos and hours
	ActThank    = "thank"    // fulfilled → thanked, by the resident (or the steward for them)
	ActWithdraw = "withdraw" // open → withdrawn, by its author or resident
)

// Actions lists the actions in the order of a wish's life.
func Actions() []string { return []string{ActClaim, ActRelease, ActFulfil, ActThank, ActWithdraw} }

// transitions is the state machine: the state an action starts from and
// the state it leads to.
var transitions = map[string]struct {
	from, to string
	// repeat reports whether a wish already in state to got there by this
	// very act of a (the same person, the same hours and words): a retry
	// then answers with the wish as it is and writes nothing. nil where
	// the wish does not record who took the step (release, withdraw).
	repeat func(w *model.Wish, a *service.Actor, in Input, hours int64) bool
}{
	ActClaim:    {model.WishOpen, model.WishClaimed, claimedBy},
	ActRelease:  {model.WishClaimed, model.WishOpen, nil},
	ActFulfil:   {model.WishClaimed, model.WishFulfilled, fulfilledBy},
	ActThank:    {model.WishFulfilled, model.WishThanked, thankedBy},
	ActWithdraw: {model.WishOpen, model.WishWithdrawn, nil},
}

func claimedBy(w *model.Wish, a *service.Actor, _ Input, _ int64) bool {
	return w.ClaimerID == a.UserID
}

func fulfilledBy(w *model.Wish, a *service.Actor, in Input, hours int64) bool {
	return w.ClaimerID == a.UserID && w.HoursCenti == hours && w.FulfilNote == in.Note && slices.Equal(w.FulfilPhotos, in.PhotoIDs)
}

func thankedBy(w *model.Wish, a *service.Actor, in Input, _ int64) bool {
	return w.ThankedBy == a.UserID && w.ThanksNote == in.Note
}

// repeated reports whether action on w by a is a retry of a's own act.
func repeated(action string, w *model.Wish, a *service.Actor, in Input, hours int64) bool {
	tr := transitions[action]
	return tr.repeat != nil && w.State == tr.to && tr.repeat(w, a, in, hours)
}

// Input carries what some actions take.
type Input struct {
	PhotoIDs []int64 // fulfil: 1 to 9 photos, required
	Hours    string  // fulfil: hours spent, e.g. "1.5" (at most two decimals)
	Note     string  // fulfil: what was done; thank: words of thanks
}

var (
	errAction       = service.Invalid("bad_action", "不支持的操作")
	errNotHelper    = service.Forbidden("not_helper", "只有本社区的党员和志愿者可以认领心愿")
	errOwnWish      = service.Forbidden("own_wish", "不能认领自己发布或为自己发布的心愿")
	errNotClaimer   = service.Forbidden("not_claimer", "只有认领人可以进行此操作")
	errNotOwner     = service.Forbidden("not_wish_owner", "只有心愿的发布人或本人可以进行此操作")
	errNotThanker   = service.Forbidden("not_wish_owner", "只有心愿本人、发布人或所在楼栋的楼栋长可以确认致谢")
	errClaimed      = service.Conflict("already_claimed", "该心愿已被他人认领")
	errFulfilPhotos = service.Invalid("photos_required", "请上传 1 到 9 张完成照片")
	errHours        = service.Invalid("bad_hours", "服务时长须为大于 0、不超过 48 的小时数，最多两位小数，如 1.5")
	errNote         = service.Invalid("bad_note", "说明不能超过 500 个字")
	errThanks       = service.Invalid("bad_thanks", "感谢的话不能超过 200 个字")
	errUnexpected   = service.Invalid("unexpected_field", "此操作不接受照片、时长或说明")
)

func stateConflict(w model.Wish) error {
	return service.Conflict("state_conflict", "心愿状态已变化（当前："+stateWords[w.State]+"），请刷新后再试").
		WithDetail(map[string]any{"state": w.State, "version": w.Version})
}

var stateWords = map[string]string{
	model.WishOpen: "待认领", model.WishClaimed: "已认领", model.WishFulfilled: "已完成",
	model.WishThanked: "已致谢", model.WishWithdrawn: "已撤回",
}

var hoursPattern = regexp.MustCompile(`^[0-9]{1,2}(\.[0-9]{1,2})?$`)

// ParseHours reads hours with at most two decimals into hundredths,
// exactly.
func ParseHours(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if !hoursPattern.MatchString(s) {
		return 0, errHours
	}
	whole, frac, _ := strings.Cut(s, ".")
	for len(frac) < 2 {
		frac += "0"
	}
	w, _ := strconv.ParseInt(whole, 10, 64)
	f, _ := strconv.ParseInt(frac, 10, 64)
	h := w*100 + f
	if h <= 0 || h > maxHoursCenti {
		return 0, errHours
	}
	return h, nil
}

// FormatHours writes hundredths of an hour as "1.50".
func FormatHours(centi int64) string {
	return fmt.Sprintf("%d.%02d", centi/100, centi%100)
}

// Act applies one action to a wish. Each is a compare-and-set on the
// locked row: of two volunteers claiming at once, one wins and the other
// gets 409 already_claimed.
func (s *Service) Act(ctx context.Context, a *service.Actor, id int64, action string, in Input) (View, error) {
	if a == nil {
		return View{}, service.ErrUnauthenticated
	}
	tr, ok := transitions[action]
	if !ok {
		return View{}, errAction
	}
	in.Note = strings.TrimSpace(in.Note)
	var hours int64
	switch action {
	case ActFulfil:
		if err := photo.CheckIDs(in.PhotoIDs, 1); err != nil {
			return View{}, errFulfilPhotos
		}
		var err error
		if hours, err = ParseHours(in.Hours); err != nil {
			return View{}, err
		}
		if utf8.RuneCountInString(in.Note) > maxNote {
			return View{}, errNote
		}
	case ActThank:
		if len(in.PhotoIDs) > 0 || in.Hours != "" {
			return View{}, errUnexpected
		}
		if utf8.RuneCountInString(in.Note) > maxThanks {
			return View{}, errThanks
		}
	default:
		if len(in.PhotoIDs) > 0 || in.Hours != "" || in.Note != "" {
			return View{}, errUnexpected
		}
	}
	// Who may, before anything is written or checked by WeChat.
	w, err := take(ctx, s.db, id, false)
	if err != nil {
		return View{}, err
	}
	if repeated(action, &w, a, in, hours) {
		return s.Get(ctx, a, id)
	}
	st, err := s.standing(ctx, a, w)
	if err != nil {
		return View{}, err
	}
	if err := allowed(action, st, w, a); err != nil {
		return View{}, err
	}
	if action == ActFulfil {
		if err := photo.CheckFree(ctx, s.db, a.UserID, in.PhotoIDs); err != nil {
			return View{}, err
		}
	}
	verdict := message.Verdict{State: model.CheckPass}
	scene := message.SceneForum
	if action == ActThank {
		scene = message.SceneComment
	}
	if in.Note != "" {
		if verdict, err = s.msgs.CheckText(ctx, a.UserID, scene, in.Note); err != nil {
			return View{}, err
		}
	}
	now := s.clock.Now().UTC()
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		// Lock by primary key first, then check: a conditional update on
		// the state index can deadlock on MariaDB under concurrency.
		w, err := take(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if repeated(action, &w, a, in, hours) {
			return nil // two copies at once: the other took it
		}
		if w.State != tr.from {
			if action == ActClaim && w.State == model.WishClaimed {
				return errClaimed.WithDetail(map[string]any{"state": w.State, "version": w.Version})
			}
			return stateConflict(w)
		}
		// The claimer may have changed since the check above.
		if err := allowed(action, st, w, a); err != nil {
			return err
		}
		next := w
		next.State = tr.to
		cols := []string{"state"}
		switch action {
		case ActClaim:
			role := model.RoleVolunteer
			if g, ok := a.GrantFor(householdTarget(w.HouseholdID, w.Ancestry), helperRoles...); ok {
				role = g.Role
			}
			next.ClaimerID, next.ClaimerRole, next.ClaimedAt = a.UserID, role, &now
			cols = append(cols, "claimer_id", "claimer_role", "claimed_at")
		case ActRelease:
			next.ClaimerID, next.ClaimerRole, next.ClaimedAt = 0, "", nil
			cols = append(cols, "claimer_id", "claimer_role", "claimed_at")
		case ActFulfil:
			next.FulfilledAt, next.FulfilNote, next.HoursCenti, next.FulfilPhotos = &now, in.Note, hours, in.PhotoIDs
			cols = append(cols, "fulfilled_at", "fulfil_note", "hours_centi", "fulfil_photos")
		case ActThank:
			next.ThankedAt, next.ThankedBy, next.ThanksNote = &now, a.UserID, in.Note
			cols = append(cols, "thanked_at", "thanked_by", "thanks_note")
		case ActWithdraw:
			next.WithdrawnAt = &now
			cols = append(cols, "withdrawn_at")
		}
		n, err := model.UpdateWish(ctx, tx, &next, w.Version, now, cols...)
		if err != nil {
			return err
		}
		if n != 1 {
			return stateConflict(w)
		}
		if in.Note != "" {
			rec := message.CheckRecord{Subject: fmt.Sprintf("wish:%d:%s", w.ID, action), UserID: a.UserID,
				Scene: scene, Text: in.Note, Ancestry: w.Ancestry}
			if err := s.msgs.RecordCheck(ctx, tx, rec, verdict); err != nil {
				return err
			}
		}
		return s.notify(ctx, tx, next, action, a.UserID)
	})
	if err != nil {
		return View{}, err
	}
	return s.Get(ctx, a, id)
}
