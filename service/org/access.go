package org

import (
	"context"
	"slices"
	"time"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
)

// Who may write which part of the tree. Reading needs no particular role:
// any grant whose scope covers the object will do.
var (
	// regionWriters create and rename regions below their own and attach
	// departments to them.
	regionWriters = []string{model.RolePlatformAdmin, model.RoleCityStaff, model.RoleDistrictStaff, model.RoleStreetStaff}
	// communityWriters keep a community's compounds, grids, buildings,
	// households and committees.
	communityWriters = []string{model.RolePlatformAdmin, model.RoleCityStaff, model.RoleDistrictStaff,
		model.RoleStreetStaff, model.RoleCommunityStaff}
	// firmWriters register firms and sign contracts: the housing authorities
	// of a district or city, not the streets and communities the firms serve.
	firmWriters = []string{model.RolePlatformAdmin, model.RoleCityStaff, model.RoleDistrictStaff}
)

// A scope check answers 403 whether the object lies outside the actor's
// scope or the actor's role there may only read. Ids are sequential and
// thus no secret, so 404 would hide nothing; 403 tells staff to ask
// someone with a wider scope, and matches the people API. An unknown id is
// 404. Either way the object is never returned or changed.

// mayRead checks that one of the actor's grants covers t.
func mayRead(a *service.Actor, t service.Target) error {
	if a.Can(t) {
		return nil
	}
	return service.ErrOutOfScope
}

// mayWrite checks that one grant both covers t and carries one of roles.
func mayWrite(a *service.Actor, t service.Target, roles []string) error {
	if a.Can(t, roles...) {
		return nil
	}
	if a.Can(t) {
		return service.ErrForbidden
	}
	return service.ErrOutOfScope
}

func regionTarget(r model.Region) service.Target {
	return service.Target{Kind: r.Level, ID: r.ID, Ancestry: r.Ancestry}
}

// regionParentTarget is the region above r, derived from r's ancestry; a
// city has none (platform scope only).
func regionParentTarget(r model.Region) service.Target {
	anc := r.Ancestry
	anc.Set(r.Level, 0)
	return service.Target{Kind: regionParent[r.Level], ID: r.ParentID, Ancestry: anc}
}

func compoundTarget(c model.Compound) service.Target {
	return service.TargetOf(model.ScopeCompound, c.ID, c.Ancestry)
}

func gridTarget(g model.Grid) service.Target {
	return service.TargetOf(model.ScopeGrid, g.ID, g.Ancestry)
}

func buildingTarget(b model.Building) service.Target {
	return service.TargetOf(model.ScopeBuilding, b.ID, b.Ancestry)
}

// householdTarget: households are no scope kind; their building's
// ancestry decides.
func householdTarget(h model.Household) service.Target {
	return service.TargetOf("household", h.ID, h.Ancestry)
}

func firmTarget(f model.Firm) service.Target {
	return service.Target{Kind: model.ScopeFirm, ID: f.ID, Ancestry: model.Ancestry{CityID: f.CityID, DistrictID: f.DistrictID}}
}

func contractTarget(c model.Contract) service.Target {
	return service.TargetOf("contract", c.ID, c.Ancestry)
}

func committeeTarget(c model.Committee) service.Target {
	return service.TargetOf("committee", c.ID, c.Ancestry)
}

func departmentTarget(d model.Department) service.Target {
	return service.TargetOf(model.ScopeDepartment, d.ID, d.Ancestry)
}

// treeReach is the part of the tree the actor's grants cover (all of it
// for a platform grant); it reaches nothing when the actor holds no grant
// in the tree.
func treeReach(a *service.Actor) model.Reach {
	var r model.Reach
	for _, g := range a.Grants {
		if g.ScopeKind == model.ScopePlatform {
			return model.Reach{All: true}
		}
		if model.AncestryColumn(g.ScopeKind) != "" {
			r.Nodes = append(r.Nodes, model.Node{Kind: g.ScopeKind, ID: g.ScopeID})
		}
	}
	return r
}

// applicationDeciders may decide the residency applications of a building
// their grant covers. Firm managers decide too, but through the contracts
// of their firm, which ScopeCovers cannot see (see mayDecide).
var applicationDeciders = []string{
	model.RoleBuildingSteward, model.RoleGridWorker, model.RoleCommunityStaff,
	model.RoleStreetStaff, model.RoleDistrictStaff, model.RoleCityStaff, model.RolePlatformAdmin,
}

// mayDecide reports whether the actor may decide applications of (and
// manage the residents of) the building anc belongs to.
func (s *Service) mayDecide(ctx context.Context, a *service.Actor, anc model.Ancestry) (bool, error) {
	t := service.Target{Kind: model.ScopeBuilding, ID: anc.BuildingID, Ancestry: anc}
	if a.Can(t, applicationDeciders...) {
		return true, nil
	}
	firms := managedFirms(a)
	if len(firms) == 0 || anc.CompoundID == 0 {
		return false, nil
	}
	return model.FirmsServe(ctx, s.db, firms, anc.CompoundID, residencyContractDay(s.clock.Now()))
}

// deciderReach is the part of the tree whose applications the actor may
// decide; it reaches nothing when the actor holds no role that decides
// applications. It mirrors mayDecide.
func (s *Service) deciderReach(a *service.Actor) model.Reach {
	var r model.Reach
	for _, g := range a.Scopes(applicationDeciders...) {
		if g.ScopeKind == model.ScopePlatform {
			return model.Reach{All: true}
		}
		if model.AncestryColumn(g.ScopeKind) != "" {
			r.Nodes = append(r.Nodes, model.Node{Kind: g.ScopeKind, ID: g.ScopeID})
		}
	}
	if firms := managedFirms(a); len(firms) > 0 {
		r.ServedBy, r.On = firms, residencyContractDay(s.clock.Now())
	}
	return r
}

func managedFirms(a *service.Actor) []int64 {
	var ids []int64
	for _, g := range a.Scopes(model.RoleFirmManager) {
		if g.ScopeKind == model.ScopeFirm {
			ids = append(ids, g.ScopeID)
		}
	}
	return ids
}

// residencyContractDay is today's date in Beijing, in the form contract
// dates are stored (midnight UTC of the calendar day): a contract ending on
// the 31st still covers 23:00 of the 31st in Beijing.
func residencyContractDay(now time.Time) time.Time {
	y, m, d := now.In(calendar.Beijing).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// staffLevel ranks the region staff roles from the top: staff may invite
// staff of their own level and below.
var staffLevel = map[string]int{
	model.RoleCityStaff: 1, model.RoleDistrictStaff: 2, model.RoleStreetStaff: 3, model.RoleCommunityStaff: 4,
}

// communityRoles are the roles a community runs on; its staff hand them out.
var communityRoles = []string{
	model.RoleGridWorker, model.RoleBuildingSteward, model.RoleCommunityDuty,
	model.RoleVolunteer, model.RoleCommittee, model.RolePartyBranch,
}

// mayInvite is the table of who may invite whom. The scope is checked
// separately: the inviting grant must also cover the invitation's scope.
func mayInvite(inviter, role string) bool {
	if _, known := roleScopes[role]; !known {
		return false
	}
	switch inviter {
	case model.RolePlatformAdmin:
		return true
	case model.RoleCityStaff, model.RoleDistrictStaff, model.RoleStreetStaff:
		if lvl, ok := staffLevel[role]; ok {
			return lvl >= staffLevel[inviter]
		}
		return slices.Contains(communityRoles, role) || role == model.RoleFirmManager || role == model.RoleDepartmentStaff
	case model.RoleCommunityStaff:
		return slices.Contains(communityRoles, role)
	case model.RoleFirmManager:
		return role == model.RoleFirmWorker
	case model.RoleGridWorker:
		return role == model.RoleBuildingSteward
	}
	return false
}

// canInvite reports whether one grant of the actor both covers t and
// carries a role that may invite role: holding the scope through one grant
// and the role through another is not enough.
func canInvite(a *service.Actor, role string, t service.Target) bool {
	if a == nil {
		return false
	}
	for _, g := range a.Grants {
		if mayInvite(g.Role, role) && service.ScopeCovers(g, t) {
			return true
		}
	}
	return false
}

// kindsAbove are the scope kinds above a region level: a region's staff
// see grants at their level and below, even where a row's ancestry would
// also match (a street grant carries no community, but defensively so).
var kindsAbove = map[string][]string{
	model.ScopeCity:      {model.ScopePlatform},
	model.ScopeDistrict:  {model.ScopePlatform, model.ScopeCity},
	model.ScopeStreet:    {model.ScopePlatform, model.ScopeCity, model.ScopeDistrict},
	model.ScopeCommunity: {model.ScopePlatform, model.ScopeCity, model.ScopeDistrict, model.ScopeStreet},
}

// grantAreas returns the grants the actor may see: those of the roles
// and scopes the actor could have invited. all is true for a platform
// admin; no areas and not all means the actor invites nobody.
func grantAreas(a *service.Actor) (areas []model.GrantArea, all bool) {
	for _, g := range a.Grants {
		node := model.Node{Kind: g.ScopeKind, ID: g.ScopeID}
		switch {
		case g.Role == model.RolePlatformAdmin && g.ScopeKind == model.ScopePlatform:
			return nil, true
		case staffLevel[g.Role] > 0 && kindsAbove[g.ScopeKind] != nil:
			areas = append(areas, model.GrantArea{Node: node, Kinds: kindsAbove[g.ScopeKind], Except: true})
		case g.Role == model.RoleGridWorker && g.ScopeKind == model.ScopeGrid:
			areas = append(areas, model.GrantArea{Node: node, Kinds: []string{model.ScopeGrid, model.ScopeBuilding}})
		case g.Role == model.RoleFirmManager && g.ScopeKind == model.ScopeFirm:
			areas = append(areas, model.GrantArea{Node: node})
		}
	}
	return areas, false
}
