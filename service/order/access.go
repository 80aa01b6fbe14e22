package order

import (
	"redprop/model"
	"redprop/service"
)

// capacity is a way a person, or the system, may stand towards an order.
type capacity int

const (
	capGrid        capacity = iota + 1 // grid worker of the order's grid
	capDispatcher                      // dispatcher of the order's level
	capCommunity                       // community staff of the order's community
	capUrger                           // community, district, street or city staff over the order
	capHandler                         // speaks for the handler organisation
	capFirmManager                     // manager of the handler firm
	capAssignee                        // the firm worker the order is assigned to
	capAuthor                          // who submitted it
	capRater                           // the resident it is for (the author when none)
	capLevelHolder                     // holder of the order's level: its grid, community, street or city staff
	capSystem                          // the scheduler, acting on deadlines
)

// roleSystem is the timeline's role of the scheduler's moves.
const roleSystem = "system"

// doer is who takes an action: a person, or the system.
type doer struct {
	actor  *service.Actor // nil for the system
	system bool
}

func person(a *service.Actor) doer { return doer{actor: a} }

// system is the scheduler as a doer.
func system() doer { return doer{system: true} }

// userID is 0 for the system.
func (d doer) userID() int64 {
	if d.actor == nil {
		return 0
	}
	return d.actor.UserID
}

// capacityOf reports whether d stands in capacity c towards o, and in
// which role (for the timeline).
func capacityOf(d doer, o *model.Order, c capacity) (string, bool) {
	if c == capSystem {
		return roleSystem, d.system
	}
	a := d.actor
	if a == nil {
		return "", false
	}
	t := orderTarget(o)
	grant := func(t service.Target, roles ...string) (string, bool) {
		g, ok := a.GrantFor(t, roles...)
		return g.Role, ok
	}
	switch c {
	case capGrid:
		// Once the order has climbed past the community (the grid did not
		// act in time), the grid no longer rejects, merges or resolves it
		// behind the level that now owns it.
		if o.Level == model.OrderLevelStreet || o.Level == model.OrderLevelCity {
			return "", false
		}
		return grant(t, model.RoleGridWorker)
	case capDispatcher:
		role, kind, id := levelScope(o)
		return grant(service.Target{Kind: kind, ID: id, Ancestry: o.Ancestry}, role)
	case capCommunity:
		return grant(t, model.RoleCommunityStaff)
	case capUrger:
		return grant(t, model.RoleCommunityStaff, model.RoleStreetStaff, model.RoleDistrictStaff, model.RoleCityStaff)
	case capHandler:
		role, _ := handlerRole(o.HandlerKind)
		if role == "" || o.HandlerID == 0 {
			return "", false
		}
		return grant(handlerTarget(o), role)
	case capFirmManager:
		if o.HandlerKind != model.HandlerFirm {
			return "", false
		}
		return grant(handlerTarget(o), model.RoleFirmManager)
	case capAssignee:
		if o.AssigneeID == 0 || o.AssigneeID != a.UserID || o.HandlerKind != model.HandlerFirm {
			return "", false
		}
		return grant(handlerTarget(o), model.RoleFirmWorker)
	case capAuthor:
		if o.AuthorID == a.UserID {
			if o.ResidentID == a.UserID {
				return SubmitterResident, true
			}
			return "author", true
		}
	case capRater:
		if raterOf(o) == a.UserID {
			return SubmitterResident, true
		}
	case capLevelHolder:
		// The holders of the current level only: grid workers of its grid,
		// community staff of its community, street staff of its street.
		if role := levelHolder(o.Level); role != "" && a.Can(t, role) {
			return role, true
		}
	}
	return "", false
}

func raterOf(o *model.Order) int64 {
	if o.ResidentID != 0 {
		return o.ResidentID
	}
	return o.AuthorID
}

// orderTarget places an order for tree scope checks.
func orderTarget(o *model.Order) service.Target {
	return service.Target{Kind: "order", ID: o.ID, Ancestry: o.Ancestry}
}

// handlerTarget is the organisation an order is dispatched to.
func handlerTarget(o *model.Order) service.Target {
	_, kind := handlerRole(o.HandlerKind)
	t := service.Target{Kind: kind, ID: o.HandlerID}
	switch o.HandlerKind {
	case model.HandlerVolunteer:
		t.CommunityID = o.HandlerID
	case model.HandlerGrid:
		t.GridID = o.HandlerID
	}
	return t
}

// levelHolder is the role that owns an order at a level and may escalate
// it by hand.
func levelHolder(level string) string {
	switch level {
	case model.OrderLevelGrid:
		return model.RoleGridWorker
	case model.OrderLevelCommunity:
		return model.RoleCommunityStaff
	case model.OrderLevelStreet:
		return model.RoleStreetStaff
	case model.OrderLevelCity:
		return model.RoleCityStaff
	}
	return ""
}

// levelScope is the dispatcher role and scope that own an order at its
// level.
func levelScope(o *model.Order) (role, kind string, id int64) {
	switch o.Level {
	case model.OrderLevelGrid:
		return model.RoleGridWorker, model.ScopeGrid, o.GridID
	case model.OrderLevelStreet:
		return model.RoleStreetStaff, model.ScopeStreet, o.StreetID
	case model.OrderLevelCity:
		return model.RoleCityStaff, model.ScopeCity, o.CityID
	}
	return model.RoleCommunityStaff, model.ScopeCommunity, o.CommunityID
}

// handlerRole is the role and scope kind that speak for a handler kind.
func handlerRole(kind string) (role, scope string) {
	switch kind {
	case model.HandlerFirm:
		return model.RoleFirmManager, model.ScopeFirm
	case model.HandlerDepartment:
		return model.RoleDepartmentStaff, model.ScopeDepartment
	case model.HandlerVolunteer:
		return model.RoleVolunteer, model.ScopeCommunity
	case model.HandlerGrid:
		return model.RoleGridWorker, model.ScopeGrid
	}
	return "", ""
}

// officialRoles see every order in their tree scope.
var officialRoles = []string{model.RoleGridWorker, model.RoleBuildingSteward, model.RoleCommunityStaff,
	model.RoleCommunityDuty, model.RoleStreetStaff, model.RoleDistrictStaff, model.RoleCityStaff, model.RolePlatformAdmin}

// relation is how a viewer stands towards one order.
type relation struct {
	own      bool // the author or the resident
	official bool // staff of the tree over it
	handler  bool // speaks for the handler, or is the assigned worker
	firm     bool // any grant of a firm
}

func relationOf(a *service.Actor, o *model.Order) relation {
	r := relation{own: a.UserID != 0 && (a.UserID == o.AuthorID || a.UserID == o.ResidentID)}
	r.official = a.Can(orderTarget(o), officialRoles...)
	if _, ok := capacityOf(person(a), o, capHandler); ok {
		r.handler = true
	} else if _, ok := capacityOf(person(a), o, capAssignee); ok {
		r.handler = true
	}
	// Speaking for the firm the order is with: a grant of another firm
	// (someone who also works for one elsewhere) is not this firm's.
	if o.HandlerKind == model.HandlerFirm {
		for _, g := range a.Grants {
			if (g.Role == model.RoleFirmManager || g.Role == model.RoleFirmWorker) && g.ScopeKind == model.ScopeFirm && g.ScopeID == o.HandlerID {
				r.firm = true
			}
		}
	}
	return r
}

func canSee(a *service.Actor, o *model.Order) bool {
	r := relationOf(a, o)
	return r.own || r.official || r.handler
}

// accepted reports whether the handler has taken the order up, from when
// it may see the resident's name and phone.
func accepted(state string) bool {
	switch state {
	case model.StateAccepted, model.StateInProgress, model.StateCompleted, model.StateConfirmed, model.StateClosed:
		return true
	}
	return false
}

// queueScope is the part of the orders a queue holds for the actor, the
// states it holds by default, and whether those states are fixed (a
// filter narrows them) or a default (a filter replaces them).
func queueScope(a *service.Actor, queue string) ([]model.OrderScope, []string, bool, error) {
	var scopes []model.OrderScope
	var states []string
	fixed := false
	assigned := func() {
		if firms := scopeIDs(a, model.RoleFirmWorker, model.ScopeFirm); len(firms) > 0 {
			scopes = append(scopes, model.OrderScope{Assignee: a.UserID, HandlerKind: model.HandlerFirm, HandlerIDs: firms})
		}
	}
	switch queue {
	case QueueMine, "":
		scopes = append(scopes, model.OrderScope{Person: a.UserID, OwnReportsOnly: a.OwnReportsOnly})
	case QueueToVerify:
		scopes = orderScopes(a, scopes, "", model.RoleGridWorker)
		states, fixed = []string{model.StateSubmitted}, true
	case QueueToConfirm:
		scopes = orderScopes(a, scopes, "", model.RoleGridWorker)
		states, fixed = []string{model.StateCompleted}, true
	case QueueToDispatch:
		scopes = orderScopes(a, scopes, model.OrderLevelCommunity, model.RoleCommunityStaff)
		scopes = orderScopes(a, scopes, model.OrderLevelStreet, model.RoleStreetStaff)
		scopes = orderScopes(a, scopes, model.OrderLevelCity, model.RoleCityStaff)
		// A report not verified in time climbs to the community unverified.
		states, fixed = []string{model.StateSubmitted, model.StateVerified}, true
	case QueueFirm:
		scopes = handlerScopes(a, scopes)
		states = []string{model.StateDispatched, model.StateAccepted, model.StateInProgress}
	case QueueAssigned:
		assigned()
		states = []string{model.StateAccepted, model.StateInProgress}
	case QueueAll:
		scopes = append(scopes, model.OrderScope{Person: a.UserID, OwnReportsOnly: a.OwnReportsOnly})
		scopes = orderScopes(a, scopes, "", officialRoles...)
		scopes = handlerScopes(a, scopes)
		assigned()
	default:
		return nil, nil, false, errQueue
	}
	if len(scopes) == 0 {
		return nil, nil, false, errQueueRole
	}
	return scopes, states, fixed, nil
}

// orderScopes adds, for each grant of roles, the orders in its part of the
// tree (at level, when level is given).
func orderScopes(a *service.Actor, scopes []model.OrderScope, level string, roles ...string) []model.OrderScope {
	for _, g := range a.Scopes(roles...) {
		switch {
		case g.ScopeKind == model.ScopePlatform:
			scopes = append(scopes, model.OrderScope{All: true, Level: level})
		case model.TreeColumn(g.ScopeKind) != "":
			scopes = append(scopes, model.OrderScope{Level: level, TreeKind: g.ScopeKind, TreeID: g.ScopeID})
		}
	}
	return scopes
}

// handlerScopes adds the orders the actor's organisations handle.
func handlerScopes(a *service.Actor, scopes []model.OrderScope) []model.OrderScope {
	for _, h := range []struct{ kind, role, scope string }{
		{model.HandlerFirm, model.RoleFirmManager, model.ScopeFirm},
		{model.HandlerDepartment, model.RoleDepartmentStaff, model.ScopeDepartment},
		{model.HandlerVolunteer, model.RoleVolunteer, model.ScopeCommunity},
		{model.HandlerGrid, model.RoleGridWorker, model.ScopeGrid},
	} {
		if ids := scopeIDs(a, h.role, h.scope); len(ids) > 0 {
			scopes = append(scopes, model.OrderScope{HandlerKind: h.kind, HandlerIDs: ids})
		}
	}
	return scopes
}

func scopeIDs(a *service.Actor, role, kind string) []int64 {
	var ids []int64
	for _, g := range a.Scopes(role) {
		if g.ScopeKind == kind {
			ids = append(ids, g.ScopeID)
		}
	}
	return ids
}

// treeScopes adds, for each grant of roles, the condition on the Ancestry
// columns of the rows in its part of the tree (at level, when level is
// given). The register of vulnerable people builds its scope with it.
func treeScopes(a *service.Actor, add func(string, ...any), level string, roles ...string) {
	for _, g := range a.Scopes(roles...) {
		if g.ScopeKind == model.ScopePlatform {
			if level == "" {
				add("1 = 1")
			} else {
				add("level = ?", level)
			}
			continue
		}
		col := model.TreeColumn(g.ScopeKind)
		if col == "" {
			continue
		}
		if level == "" {
			add(col+" = ?", g.ScopeID)
		} else {
			add("level = ? AND "+col+" = ?", level, g.ScopeID)
		}
	}
}
