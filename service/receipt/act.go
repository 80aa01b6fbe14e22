package receipt

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// Roles that record "told in person" for the households their grant
// covers: the building steward knocks, the grid worker too.
var inPersonRoles = []string{model.RoleBuildingSteward, model.RoleGridWorker}

const maxNote = 200

var (
	// ErrNotTold is a user none of whose households was told of the
	// subject.
	ErrNotTold      = service.NotFound("not_told", "您的房屋未收到该内容")
	errNoReceipt    = service.NotFound("receipt_not_found", "该房屋未收到该内容")
	errNotSteward   = service.Forbidden("not_steward", "只有该楼栋的楼栋长或网格员可以登记当面告知")
	errToldAlready  = service.Conflict("told_in_person_already", "该户已登记过当面告知")
	errNote         = service.Invalid("bad_note", "备注须为 1 到 200 个字")
	errInPersonTime = service.Invalid("bad_told_at", "告知时间不能晚于现在，也不能早于送达时间")
)

// Read records that userID opened the subject, on the receipt of each of
// their households that was told, inside the caller's transaction: the
// first read counts (its time and reader stay), later ones change
// nothing. The user's inbox message of the subject is marked read too.
// ErrNotTold when none of their households was told.
func (s *Service) Read(ctx context.Context, tx *gorm.DB, subj Subject, userID int64) ([]model.Receipt, error) {
	return s.mark(ctx, tx, subj, userID, false)
}

// Confirm records that userID confirmed the subject (a water cut, a fire
// drill …) for their households told, which reads it as well. Whether the
// subject asks for confirmation is its capability's rule.
func (s *Service) Confirm(ctx context.Context, tx *gorm.DB, subj Subject, userID int64) ([]model.Receipt, error) {
	return s.mark(ctx, tx, subj, userID, true)
}

// Unmarked returns the subjects among subjs (of one kind) whose opening
// by userID has something to record: a receipt of their households not
// yet read (or, with confirm, not confirmed), or their own inbox message
// of it still unread (another member of the household may have read the
// receipt). It reads without locks, so a resident opening what they
// have read already needs no transaction. Subjects their households were
// not told of are left out.
func (s *Service) Unmarked(ctx context.Context, db *gorm.DB, subjs []Subject, userID int64, confirm bool) ([]Subject, error) {
	if len(subjs) == 0 {
		return nil, nil
	}
	households, err := model.HouseholdsOfUser(ctx, db, userID)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(subjs))
	for i, sj := range subjs {
		ids[i] = sj.ID
	}
	rs, err := model.ReceiptsOf(ctx, db, subjs[0].Kind, ids, households)
	if err != nil {
		return nil, err
	}
	return UnmarkedOf(ctx, db, subjs, rs, userID, confirm)
}

// UnmarkedOf is Unmarked for a caller that has read the receipts rs of
// userID's households for subjs already: only the inbox is read.
func UnmarkedOf(ctx context.Context, db *gorm.DB, subjs []Subject, rs []model.Receipt, userID int64, confirm bool) ([]Subject, error) {
	told, open := map[int64]bool{}, map[int64]bool{}
	for _, r := range rs {
		told[r.SubjectID] = true
		if r.ReadAt == nil || (confirm && !r.Confirmed) {
			open[r.SubjectID] = true
		}
	}
	var keys []string
	for _, sj := range subjs {
		if told[sj.ID] && !open[sj.ID] {
			keys = append(keys, sj.Key())
		}
	}
	unread, err := model.UnreadInboxKeys(ctx, db, userID, keys)
	if err != nil {
		return nil, err
	}
	var out []Subject
	for _, sj := range subjs {
		if open[sj.ID] || (told[sj.ID] && slices.Contains(unread, sj.Key())) {
			out = append(out, sj)
		}
	}
	return out, nil
}

func (s *Service) mark(ctx context.Context, tx *gorm.DB, subj Subject, userID int64, confirm bool) ([]model.Receipt, error) {
	households, err := model.HouseholdsOfUser(ctx, tx, userID)
	if err != nil {
		return nil, err
	}
	rs, err := model.LockReceipts(ctx, tx, subj.Kind, subj.ID, households)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, ErrNotTold
	}
	now := s.now()
	for i := range rs {
		r := &rs[i]
		set := map[string]any{}
		var d model.TallyDelta
		if r.ReadAt == nil {
			r.ReadAt, r.ReadBy = &now, userID
			set["read_at"], set["read_by"] = now, userID
			d.Read = 1
		}
		if confirm && !r.Confirmed {
			r.Confirmed, r.ConfirmAt, r.ConfirmBy = true, &now, userID
			set["confirmed"], set["confirm_at"], set["confirm_by"] = true, now, userID
			d.Confirmed = 1
		}
		if len(set) == 0 {
			continue
		}
		reach(r, set, &d, now)
		if err := s.write(ctx, tx, *r, set, d); err != nil {
			return nil, err
		}
	}
	if err := model.ReadInbox(ctx, tx, userID, subj.Key(), now); err != nil {
		return nil, err
	}
	return rs, nil
}

// reach marks r reached by the change being made, if it was not.
func reach(r *model.Receipt, set map[string]any, d *model.TallyDelta, at time.Time) {
	if r.Reached {
		return
	}
	r.Reached, r.ReachedAt = true, &at
	set["reached"], set["reached_at"] = true, at
	d.Reached = 1
}

func (s *Service) write(ctx context.Context, tx *gorm.DB, r model.Receipt, set map[string]any, d model.TallyDelta) error {
	set["updated_at"] = s.now()
	if err := model.UpdateReceipt(ctx, tx, r.ID, set); err != nil {
		return err
	}
	return model.BumpTallies(ctx, tx, r.SubjectKind, r.SubjectID, r.BuildingID, r.Unit, d)
}

// InPerson is a steward's record that a household was told at their door.
type InPerson struct {
	HouseholdID int64
	Note        string
	// At is when they were told (zero: now); never in the future.
	At time.Time
}

// TellInPerson records, inside the caller's transaction, that the actor
// (the building steward or grid worker of the household) told the
// household of the subject in person: who, when, note. It counts as
// reached. A household is recorded once.
func (s *Service) TellInPerson(ctx context.Context, tx *gorm.DB, a *service.Actor, subj Subject, in InPerson) (model.Receipt, error) {
	if a == nil {
		return model.Receipt{}, service.ErrUnauthenticated
	}
	in.Note = strings.TrimSpace(in.Note)
	if in.Note == "" || utf8.RuneCountInString(in.Note) > maxNote {
		return model.Receipt{}, errNote
	}
	rs, err := model.LockReceipts(ctx, tx, subj.Kind, subj.ID, []int64{in.HouseholdID})
	if err != nil {
		return model.Receipt{}, err
	}
	if len(rs) == 0 {
		return model.Receipt{}, errNoReceipt
	}
	r := rs[0]
	if !a.Can(service.TargetOf(ScopeHousehold, r.HouseholdID, r.Ancestry), inPersonRoles...) {
		return model.Receipt{}, errNotSteward
	}
	if r.InPersonAt != nil {
		return model.Receipt{}, errToldAlready
	}
	now := s.now()
	at := now
	if !in.At.IsZero() {
		at = in.At.UTC().Truncate(time.Microsecond)
	}
	if at.After(now) || at.Before(r.CreatedAt.Add(-time.Second)) {
		return model.Receipt{}, errInPersonTime
	}
	set := map[string]any{"in_person_at": at, "in_person_by": a.UserID, "in_person_note": in.Note}
	r.InPersonAt, r.InPersonBy, r.InPersonNote = &at, a.UserID, in.Note
	d := model.TallyDelta{InPerson: 1}
	reach(&r, set, &d, at)
	if err := s.write(ctx, tx, r, set, d); err != nil {
		return model.Receipt{}, err
	}
	return r, nil
}

// InTx runs fn in a transaction retried on deadlock: the tallies of a
// subject are shared by every reader of it.
func (s *Service) InTx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return model.InTxRetry(ctx, s.db, 3, fn)
}
