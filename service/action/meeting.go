package action

import (
	"context"
	"errors"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// fromMeeting: a meeting's organiser, or community staff over its scope,
// record a resolution of the meeting as an item; the meeting's organiser
// verifies it. The item concerns the place named in the input, which must
// lie in the meeting's scope, or else the meeting's own compound or
// community. A draft or cancelled meeting resolved nothing.
func (s *Service) fromMeeting(ctx context.Context, a *service.Actor, in CreateInput) (place, int64, error) {
	m, err := model.ByID[model.Meeting](ctx, s.db, in.SourceID)
	if err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return place{}, 0, errMeetingGone
		}
		return place{}, 0, err
	}
	scope := service.TargetOf(m.ScopeKind, m.ScopeID, m.Ancestry)
	if a.UserID != m.OrganiserID && !a.Can(scope, model.RoleCommunityStaff) {
		return place{}, 0, errMeetingRole
	}
	// Resolutions come from a meeting that has been held.
	if m.State != model.MeetingHeld && m.State != model.MeetingMinuted && m.State != model.MeetingClosed {
		return place{}, 0, errMeetingOpen
	}
	p, ok, err := s.placeOf(ctx, in)
	if err != nil {
		return place{}, 0, err
	}
	if ok {
		if !service.ScopeCovers(model.Grant{ScopeKind: m.ScopeKind, ScopeID: m.ScopeID}, p.target()) {
			return place{}, 0, errScopeOut
		}
		return p, m.OrganiserID, nil
	}
	switch m.ScopeKind {
	case model.ScopeCompound:
		anc := compoundAncestry(m.Ancestry)
		anc.CompoundID = m.ScopeID
		return place{kind: model.ScopeCompound, id: m.ScopeID, anc: anc}, m.OrganiserID, nil
	case model.ScopeCommunity:
		anc := communityAncestry(m.Ancestry)
		anc.CommunityID = m.ScopeID
		return place{kind: model.ScopeCommunity, id: m.ScopeID, anc: anc}, m.OrganiserID, nil
	}
	// A street meeting: the item must name its compound or community.
	return place{}, 0, errScopeNeeded
}

// meetingTitles reads the titles of meetings by id.
func (s *Service) meetingTitles(ctx context.Context, db *gorm.DB, ids map[int64]bool) (map[int64]string, error) {
	return nameMap(ctx, db, &model.Meeting{}, "title", ids)
}
