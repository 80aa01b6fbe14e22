package meeting

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/message"
)

// scopeAncestry is the place in the tree of a street, community or
// compound, with its own id filled in.
func (s *Service) scopeAncestry(ctx context.Context, kind string, id int64) (model.Ancestry, error) {
	var anc model.Ancestry
	var err error
	switch kind {
	case model.ScopeCompound:
		var c model.Compound
		c, err = model.ByID[model.Compound](ctx, s.db, id)
		anc = c.Ancestry
		anc.CompoundID = c.ID
	default:
		var r model.Region
		r, err = model.TakeRegion(ctx, s.db, id, kind)
		anc = r.Ancestry
		if kind == model.ScopeStreet {
			anc.StreetID = r.ID
		} else {
			anc.CommunityID = r.ID
		}
	}
	if errors.Is(err, model.ErrNotFound) {
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
	found, err := model.OwnPhotoIDs(ctx, s.db, userID, ids)
	if err != nil {
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

// checkPersons refuses people with no standing in the meeting's scope: a
// person may be invited by name when they live in it, hold a grant over a
// place on its branch of the tree (a steward of one of its buildings, the
// street above it), or work for a firm with a contract in it. Nobody else
// is pushed a notice.
func (s *Service) checkPersons(ctx context.Context, m *model.Meeting, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	ok := map[int64]bool{}
	living, err := model.ResidentsIn(ctx, s.db, ids, scope(m))
	if err != nil {
		return err
	}
	for _, id := range living {
		ok[id] = true
	}
	grants, err := model.LiveGrantsOf(ctx, s.db, ids)
	if err != nil {
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
		served, err := model.FirmsServing(ctx, s.db, firms, scope(m), nil)
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

// scope is the meeting's scope as a place of the tree.
func scope(m *model.Meeting) model.Place { return model.Place{Kind: m.ScopeKind, ID: m.ScopeID} }

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
	for _, g := range in {
		var name string
		var anc model.Ancestry
		var err error
		switch g.Kind {
		case model.GroupCompoundCommittee, model.GroupCompoundBranch, model.GroupCompoundResidents:
			var c model.Compound
			c, err = model.ByID[model.Compound](ctx, s.db, g.TargetID)
			name, anc = c.Name, c.Ancestry
			anc.CompoundID = c.ID
		case model.GroupCommunityStaff:
			var r model.Region
			r, err = model.TakeRegion(ctx, s.db, g.TargetID, model.LevelCommunity)
			name, anc = r.Name, r.Ancestry
			anc.CommunityID = r.ID
		case model.GroupGridStewards:
			var gr model.Grid
			gr, err = model.ByID[model.Grid](ctx, s.db, g.TargetID)
			name, anc = gr.Name, gr.Ancestry
			anc.GridID = gr.ID
		case model.GroupFirmManagers:
			var f model.Firm
			if f, err = model.ByID[model.Firm](ctx, s.db, g.TargetID); err == nil {
				served, ferr := model.FirmsServing(ctx, s.db, []int64{f.ID}, scope(m), nil)
				if ferr != nil {
					return nil, ferr
				}
				if len(served) == 0 {
					return nil, errGroupTarget(g)
				}
			}
			name = f.Name
		}
		if errors.Is(err, model.ErrNotFound) {
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
	if err := model.InviteParticipants(ctx, tx, rows); err != nil {
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
	if err := model.AddMeetingGroups(ctx, tx, groups); err != nil {
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
		// Rows inserted later have higher ids: those above last are the new ones.
		last, err := model.LastParticipantID(ctx, tx, m.ID)
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
	return s.removeFromDraft(ctx, a, id, func(tx *gorm.DB) (int64, error) {
		return model.RemoveParticipant(ctx, tx, id, userID)
	}, service.NotFound("participant_not_found", "该用户不在参会名单中"))
}

// RemoveGroup takes a group off a draft meeting.
func (s *Service) RemoveGroup(ctx context.Context, a *service.Actor, id, groupID int64) error {
	return s.removeFromDraft(ctx, a, id, func(tx *gorm.DB) (int64, error) {
		return model.RemoveMeetingGroup(ctx, tx, id, groupID)
	}, service.NotFound("group_not_found", "该参会群体不存在"))
}

func (s *Service) removeFromDraft(ctx context.Context, a *service.Actor, id int64, del func(tx *gorm.DB) (int64, error), missing error) error {
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
		n, err := del(tx)
		if err != nil {
			return err
		}
		if n == 0 {
			return missing
		}
		return nil
	})
}

// members is a keyset page of a group's members: up to BatchSize rows
// (by their id in the group's source table) with an id above after.
func (s *Service) members(ctx context.Context, tx *gorm.DB, g model.MeetingGroup, after int64) ([]member, error) {
	seat := func(role, kind string) model.Seat {
		return model.Seat{Role: role, ScopeKind: kind, ScopeID: g.TargetID}
	}
	var gs []model.Grant
	var err error
	switch g.Kind {
	case model.GroupCompoundCommittee:
		gs, err = model.HoldersAfter(ctx, tx, seat(model.RoleCommittee, model.ScopeCompound), after, s.opts.BatchSize)
	case model.GroupCompoundBranch:
		gs, err = model.HoldersAfter(ctx, tx, seat(model.RolePartyBranch, model.ScopeCompound), after, s.opts.BatchSize)
	case model.GroupCommunityStaff:
		gs, err = model.HoldersAfter(ctx, tx, seat(model.RoleCommunityStaff, model.ScopeCommunity), after, s.opts.BatchSize)
	case model.GroupFirmManagers:
		gs, err = model.HoldersAfter(ctx, tx, seat(model.RoleFirmManager, model.ScopeFirm), after, s.opts.BatchSize)
	case model.GroupGridStewards:
		gs, err = model.GridHoldersAfter(ctx, tx, model.RoleBuildingSteward, model.ScopeBuilding, g.TargetID, after, s.opts.BatchSize)
	default:
		rs, err := model.ResidenciesAfter(ctx, tx, g.TargetID, after, s.opts.BatchSize)
		out := make([]member, len(rs))
		for i, r := range rs {
			out[i] = member{id: r.ID, userID: r.UserID}
		}
		return out, err
	}
	out := make([]member, len(gs))
	for i, g := range gs {
		out[i] = member{id: g.ID, userID: g.UserID}
	}
	return out, err
}

// member is one row of a group's source: its id (the keyset) and user.
type member struct{ id, userID int64 }

// expand turns every group of m not yet expanded into participant rows,
// inside tx. Members are streamed in keyset batches and inserted with the
// (meeting, user) key ignoring duplicates, so nobody is loaded twice or
// invited twice, however many groups they are in.
func (s *Service) expand(ctx context.Context, tx *gorm.DB, m *model.Meeting, now time.Time) error {
	groups, err := model.UnexpandedGroups(ctx, tx, m.ID)
	if err != nil {
		return fmt.Errorf("read groups: %w", err)
	}
	for _, g := range groups {
		var found, after int64
		for {
			rows, err := s.members(ctx, tx, g, after)
			if err != nil {
				return fmt.Errorf("expand group %d: %w", g.ID, err)
			}
			if len(rows) == 0 {
				break
			}
			if s.onBatch != nil {
				s.onBatch("group", len(rows))
			}
			found += int64(len(rows))
			batch := make([]model.MeetingParticipant, 0, len(rows))
			seen := make(map[int64]bool, len(rows))
			for _, r := range rows {
				if !seen[r.userID] {
					seen[r.userID] = true
					batch = append(batch, model.MeetingParticipant{MeetingID: m.ID, UserID: r.userID, GroupID: g.ID,
						RSVP: model.RSVPPending, Base: model.Base{CreatedAt: now, UpdatedAt: now}})
				}
			}
			if err := model.InviteParticipants(ctx, tx, batch); err != nil {
				return fmt.Errorf("expand group %d: %w", g.ID, err)
			}
			if len(rows) < s.opts.BatchSize {
				break
			}
			after = rows[len(rows)-1].id
		}
		// Counted, not summed from rows affected: MySQL reports an ignored
		// duplicate of ON DUPLICATE KEY UPDATE as affected.
		added, err := model.CountParticipants(ctx, tx, m.ID, g.ID)
		if err != nil {
			return err
		}
		if err := model.MarkGroupExpanded(ctx, tx, g.ID, found, added, now); err != nil {
			return err
		}
	}
	return nil
}
