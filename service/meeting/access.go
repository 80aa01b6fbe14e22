package meeting

import (
	"context"
	"errors"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// target is the meeting's scope as a scope-check target.
func target(m *model.Meeting) service.Target {
	return service.TargetOf(m.ScopeKind, m.ScopeID, m.Ancestry)
}

// staffRoles are the organiser roles of the government side: they manage
// every meeting of their scope (a colleague falls ill, the street steps
// in). A compound's party branch and committee manage only the meetings
// their own members called.
var staffRoles = []string{model.RoleCommunityStaff, model.RoleStreetStaff, model.RoleDistrictStaff, model.RoleCityStaff}

// canManage reports whether a may change the meeting: its organiser while
// they still hold the role they called it in, or staff over its scope.
func canManage(a *service.Actor, m *model.Meeting) bool {
	if a == nil {
		return false
	}
	if a.UserID == m.OrganiserID && a.Can(target(m), m.OrganiserRole) {
		return true
	}
	return a.Can(target(m), staffRoles...)
}

// load reads a meeting by id.
func load(ctx context.Context, db *gorm.DB, id int64) (model.Meeting, error) {
	m, err := model.ByID[model.Meeting](ctx, db, id)
	return m, service.OrNotFound(err, errHidden)
}

// lock reads and locks a meeting by primary key inside tx (then its state
// is checked: locking by id first keeps MariaDB off the state index).
func lock(ctx context.Context, tx *gorm.DB, id int64) (model.Meeting, error) {
	m, err := model.LockByID[model.Meeting](ctx, tx, id)
	return m, service.OrNotFound(err, errHidden)
}

// participant returns the actor's participant row of a meeting, if any.
func participant(ctx context.Context, db *gorm.DB, meetingID, userID int64) (*model.MeetingParticipant, error) {
	p, err := model.Participant(ctx, db, meetingID, userID)
	if errors.Is(err, model.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// access says how the actor stands towards a meeting; a meeting they may
// not see is errHidden (404: ids are sequential and must not be probed).
type access struct {
	manager bool
	me      *model.MeetingParticipant
}

func (s *Service) access(ctx context.Context, db *gorm.DB, a *service.Actor, m *model.Meeting) (access, error) {
	if a == nil {
		return access{}, service.ErrUnauthenticated
	}
	acc := access{manager: canManage(a, m)}
	p, err := participant(ctx, db, m.ID, a.UserID)
	if err != nil {
		return acc, err
	}
	acc.me = p
	if !acc.manager && (p == nil || m.State == model.MeetingDraft) {
		return acc, errHidden
	}
	return acc, nil
}

// manage loads the meeting for a change by a manager: outsiders get 404,
// participants who may not change it 403.
func (s *Service) manage(ctx context.Context, a *service.Actor, id int64) (model.Meeting, error) {
	if a == nil {
		return model.Meeting{}, service.ErrUnauthenticated
	}
	m, err := load(ctx, s.db, id)
	if err != nil {
		return m, err
	}
	acc, err := s.access(ctx, s.db, a, &m)
	if err != nil {
		return m, err
	}
	if !acc.manager {
		return m, errNotManager
	}
	return m, nil
}
