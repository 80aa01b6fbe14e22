package meeting

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"redprop/model"
	"redprop/service"
	"redprop/service/message"
)

// scopeAncestry is the place in the tree of a street, community or
// compound, with its own id filled in.
func (s *Service) scopeAncestry(ctx context.Context, kind string, id int64) (model.Ancestry, error) {
	db := s.db.WithContext(ctx)
	var anc model.Ancestry
	var err error
	switch kind {
	case model.ScopeCompound:
		var c model.Compound
		err = db.Take(&c, id).Error
		anc = c.Ancestry
		anc.CompoundID = c.ID
	default:
		var r model.Region
		err = db.Where("level = ?", kind).Take(&r, id).Error
		anc = r.Ancestry
		if kind == model.ScopeStreet {
			anc.StreetID = r.ID
		} else {
			anc.CommunityID = r.ID
		}
	}
	if err = model.Translate(err); errors.Is(err, model.ErrNotFound) {
		return anc, errScopeGone
	}
	return anc, err
}

// checkPhotos refuses attachments whose photo is missing or not the
// actor's own upload.
func (s *Service) checkPhotos(ctx context.Context, userID int64, atts []model.MeetingAttachment) error {
	var ids []int64
	for _, at := range atts {
		if at.PhotoID != 0 {
			ids = append(ids, at.PhotoID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var found []int64
	if err := s.db.WithContext(ctx).Model(&model.Photo{}).Where("id IN ? AND uploader_id = ?", ids, userID).
		Pluck("id", &found).Error; err != nil {
		return err
	}
	for _, id := range ids {
		if !slices.Contains(found, id) {
			return errPhoto(id)
		}
	}
	return nil
}

// sameBranch reports whether two places lie on one branch of the tree:
// one contains the other (a zero id means "not below that level").
func sameBranch(a, b model.Ancestry) bool {
	pairs := [][2]int64{{a.CityID, b.CityID}, {a.DistrictID, b.DistrictID}, {a.StreetID, b.StreetID},
		{a.CommunityID, b.CommunityID}, {a.CompoundID, b.CompoundID}, {a.GridID, b.GridID}, {a.BuildingID, b.BuildingID}}
	for _, p := range pairs {
		if p[0] != 0 && p[1] != 0 && p[0] != p[1] {
			return false
		}
	}
	return true
}

// scopeColumn is the ancestry column that equals the meeting's scope id
// on every row inside its scope.
func scopeColumn(kind string) string {
	switch kind {
	case model.ScopeStreet:
		return "street_id"
	case model.ScopeCommunity:
		return "community_id"
	}
	return "compound_id"
}

// checkPersons refuses people with no standing in the meeting's scope: a
// person may be invited by name when they live in it, hold a grant over a
// place on its branch of the tree (a steward of one of its buildings, the
// street above it), or work for a firm with a contract in it. Nobody else
// is pushed a notice.
func (s *Service) checkPersons(ctx context.Context, m *model.Meeting, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	db := s.db.WithContext(ctx)
	ok := map[int64]bool{}
	var res []model.Residency
	if err := db.Select("user_id").Where("user_id IN ? AND "+scopeColumn(m.ScopeKind)+" = ?", ids, m.ScopeID).
		Find(&res).Error; err != nil {
		return err
	}
	for _, r := range res {
		ok[r.UserID] = true
	}
	var grants []model.Grant
	if err := db.Where("user_id IN ? AND revoked_at IS NULL", ids).Find(&grants).Error; err != nil {
		return err
	}
	var firms []int64
	for _, g := range grants {
		if g.ScopeKind == model.ScopeFirm {
			firms = append(firms, g.ScopeID)
		} else if sameBranch(g.Ancestry, m.Ancestry) {
			ok[g.UserID] = true
		}
	}
	if len(firms) > 0 {
		served, err := s.firmsServing(ctx, db, m, firms)
		if err != nil {
			return err
		}
		for _, g := range grants {
			if g.ScopeKind == model.ScopeFirm && slices.Contains(served, g.ScopeID) {
				ok[g.UserID] = true
			}
		}
	}
	for _, id := range ids {
		if !ok[id] {
			return errPerson(id)
		}
	}
	return nil
}

// firmsServing returns those of firms with a contract (of any period) for
// a compound in the meeting's scope.
func (s *Service) firmsServing(ctx context.Context, db *gorm.DB, m *model.Meeting, firms []int64) ([]int64, error) {
	var served []int64
	err := db.WithContext(ctx).Model(&model.Contract{}).Distinct("firm_id").
		Where("firm_id IN ? AND "+scopeColumn(m.ScopeKind)+" = ?", firms, m.ScopeID).Pluck("firm_id", &served).Error
	return served, err
}

// groupKinds names each group kind's members in Chinese.
var groupKinds = map[string]string{
	model.GroupCompoundCommittee: "业委会", model.GroupCompoundBranch: "小区党支部",
	model.GroupCommunityStaff: "社区工作者", model.GroupFirmManagers: "物业经理",
	model.GroupGridStewards: "楼栋长", model.GroupCompoundResidents: "全体居民",
}

// resolveGroups checks that each group's compound, community, grid or firm
// exists and lies in the meeting's scope, and names the group.
func (s *Service) resolveGroups(ctx context.Context, m *model.Meeting, in []GroupInput) ([]model.MeetingGroup, error) {
	out := make([]model.MeetingGroup, 0, len(in))
	db := s.db.WithContext(ctx)
	for _, g := range in {
		var name string
		var anc model.Ancestry
		var err error
		switch g.Kind {
		case model.GroupCompoundCommittee, model.GroupCompoundBranch, model.GroupCompoundResidents:
			var c model.Compound
			err = db.Take(&c, g.TargetID).Error
			name, anc = c.Name, c.Ancestry
			anc.CompoundID = c.ID
		case model.GroupCommunityStaff:
			var r model.Region
			err = db.Where("level = ?", model.LevelCommunity).Take(&r, g.TargetID).Error
			name, anc = r.Name, r.Ancestry
			anc.CommunityID = r.ID
		case model.GroupGridStewards:
			var gr model.Grid
			err = db.Take(&gr, g.TargetID).Error
			name, anc = gr.Name, gr.Ancestry
			anc.GridID = gr.ID
		case model.GroupFirmManagers:
			var f model.Firm
			if err = db.Take(&f, g.TargetID).Error; err == nil {
				served, ferr := s.firmsServing(ctx, db, m, []int64{f.ID})
				if ferr != nil {
					return nil, ferr
				}
				if len(served) == 0 {
					return nil, errGroupTarget(g)
				}
			}
			name = f.Name
		}
		if err = model.Translate(err); errors.Is(err, model.ErrNotFound) {
			return nil, errGroupTarget(g)
		} else if err != nil {
			return nil, err
		}
		if g.Kind != model.GroupFirmManagers && !sameBranch(anc, m.Ancestry) {
			return nil, errGroupTarget(g)
		}
		// Names of firms and compounds run to 100 characters, as does the
		// column: keep the suffix that says who the group is.
		suffix := groupKinds[g.Kind]
		label := service.CutRunes(name, 100-utf8.RuneCountInString(suffix)) + suffix
		out = append(out, model.MeetingGroup{Kind: g.Kind, TargetID: g.TargetID, Name: label})
	}
	return out, nil
}

// insertPersons invites people by name inside tx; people already invited
// stay as they are.
func (s *Service) insertPersons(ctx context.Context, tx *gorm.DB, meetingID int64, ids []int64, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	rows := make([]model.MeetingParticipant, 0, len(ids))
	for _, id := range ids {
		rows = append(rows, model.MeetingParticipant{MeetingID: meetingID, UserID: id, RSVP: model.RSVPPending,
			Base: model.Base{CreatedAt: now, UpdatedAt: now}})
	}
	if err := tx.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&rows).Error; err != nil {
		return fmt.Errorf("invite people: %w", err)
	}
	return nil
}

// insertGroups records groups inside tx; a group already there is kept.
func (s *Service) insertGroups(ctx context.Context, tx *gorm.DB, meetingID int64, groups []model.MeetingGroup, now time.Time) error {
	if len(groups) == 0 {
		return nil
	}
	for i := range groups {
		groups[i].MeetingID = meetingID
		groups[i].CreatedAt, groups[i].UpdatedAt = now, now
	}
	if err := tx.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&groups).Error; err != nil {
		return fmt.Errorf("invite groups: %w", err)
	}
	return nil
}

// AddInvitees invites more people and groups to a draft, scheduled or
// held meeting. On a scheduled meeting the groups expand at once and only
// the newly invited are told (and reminded); on a held one (walk-ins at
// the venue, to be signed in) nobody is told.
func (s *Service) AddInvitees(ctx context.Context, a *service.Actor, id int64, users []int64, groups []GroupInput) (View, error) {
	if len(users) == 0 && len(groups) == 0 {
		return View{}, service.Invalid("no_invitees", "请给出要邀请的参会人或参会群体")
	}
	if err := checkInvitees(users, groups); err != nil {
		return View{}, err
	}
	m, err := s.manage(ctx, a, id)
	if err != nil {
		return View{}, err
	}
	if err := s.checkPersons(ctx, &m, users); err != nil {
		return View{}, err
	}
	gs, err := s.resolveGroups(ctx, &m, groups)
	if err != nil {
		return View{}, err
	}
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		if m, err = lock(ctx, tx, id); err != nil {
			return err
		}
		if m.State != model.MeetingDraft && m.State != model.MeetingScheduled && m.State != model.MeetingHeld {
			return stateConflict(&m, "邀请参会人")
		}
		now := s.clock.Now().UTC()
		last, err := lastParticipant(ctx, tx, m.ID)
		if err != nil {
			return err
		}
		if err := s.insertPersons(ctx, tx, m.ID, users, now); err != nil {
			return err
		}
		if err := s.insertGroups(ctx, tx, m.ID, gs, now); err != nil {
			return err
		}
		if m.State == model.MeetingDraft {
			return nil
		}
		if err := s.expand(ctx, tx, &m, now); err != nil {
			return err
		}
		if m.State == model.MeetingHeld {
			return nil // walk-ins at the venue: signed in there, not told
		}
		evs := append([]message.Event{s.notice(&m, noticeScheduled, "")}, s.reminders(&m, now)...)
		return s.tell(ctx, tx, m.ID, last, evs...)
	})
	if err != nil {
		return View{}, err
	}
	return s.Get(ctx, a, id)
}

// RemoveParticipant takes a person off a draft meeting's list.
func (s *Service) RemoveParticipant(ctx context.Context, a *service.Actor, id, userID int64) error {
	return s.removeFromDraft(ctx, a, id, func(tx *gorm.DB) *gorm.DB {
		return tx.Where("meeting_id = ? AND user_id = ?", id, userID).Delete(&model.MeetingParticipant{})
	}, service.NotFound("participant_not_found", "该用户不在参会名单中"))
}

// RemoveGroup takes a group off a draft meeting.
func (s *Service) RemoveGroup(ctx context.Context, a *service.Actor, id, groupID int64) error {
	return s.removeFromDraft(ctx, a, id, func(tx *gorm.DB) *gorm.DB {
		return tx.Where("meeting_id = ? AND id = ?", id, groupID).Delete(&model.MeetingGroup{})
	}, service.NotFound("group_not_found", "该参会群体不存在"))
}

func (s *Service) removeFromDraft(ctx context.Context, a *service.Actor, id int64, del func(tx *gorm.DB) *gorm.DB, missing error) error {
	if _, err := s.manage(ctx, a, id); err != nil {
		return err
	}
	return model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		m, err := lock(ctx, tx, id)
		if err != nil {
			return err
		}
		if m.State != model.MeetingDraft {
			return errNotInDraft
		}
		res := del(tx.WithContext(ctx))
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return missing
		}
		return nil
	})
}

// lastParticipant is the highest participant row id of a meeting (0 if
// none): rows inserted later have higher ids, so they are the new ones.
func lastParticipant(ctx context.Context, tx *gorm.DB, meetingID int64) (int64, error) {
	var last int64
	err := tx.WithContext(ctx).Model(&model.MeetingParticipant{}).Where("meeting_id = ?", meetingID).
		Select("COALESCE(MAX(id), 0)").Scan(&last).Error
	return last, err
}
