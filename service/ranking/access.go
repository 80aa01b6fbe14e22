package ranking

import (
	"context"
	"slices"

	"redprop/model"
	"redprop/service"
)

// publisherRole is who reviews, publishes and decides appeals at a level.
func publisherRole(scopeKind string) string {
	switch scopeKind {
	case model.LevelStreet:
		return model.RoleStreetStaff
	case model.LevelDistrict:
		return model.RoleDistrictStaff
	case model.LevelCity:
		return model.RoleCityStaff
	}
	return ""
}

// Staff roles that read every ranking, draft or not, of the scopes their
// grants cover (a city's staff read its streets' lists).
var staffRoles = []string{model.RoleStreetStaff, model.RoleDistrictStaff, model.RoleCityStaff, model.RolePlatformAdmin}

// Roles that see the flags of their scope: the street and above, and the
// compound's committee.
var flagRoles = []string{model.RoleStreetStaff, model.RoleDistrictStaff, model.RoleCityStaff, model.RolePlatformAdmin,
	model.RoleCommittee}

func rankingTarget(r model.Ranking) service.Target {
	return service.TargetOf(r.ScopeKind, r.ScopeID, r.Ancestry)
}

// mayPublish checks that the actor holds the publishing level's role over
// the ranking's scope.
func mayPublish(a *service.Actor, r model.Ranking) error {
	if a.Can(rankingTarget(r), publisherRole(r.ScopeKind)) {
		return nil
	}
	if a.Can(rankingTarget(r), staffRoles...) {
		return errNotPublisher
	}
	return service.ErrOutOfScope
}

// firmIDs are the firms the actor manages.
func firmIDs(a *service.Actor) []int64 {
	var ids []int64
	for _, g := range a.Scopes(model.RoleFirmManager) {
		if g.ScopeKind == model.ScopeFirm && !slices.Contains(ids, g.ScopeID) {
			ids = append(ids, g.ScopeID)
		}
	}
	return ids
}

// view is what one actor may see of a ranking: all of it (staff of its
// scope), or, of a published version, the lines of the firms they manage
// and those of the compounds they live in or hold a grant over (the
// public result, 公示, for the residents, committee and community told of
// it).
type view struct {
	staff bool
	firms []int64
	local bool // the lines of compounds the actor lives in or serves
}

func (s *Service) viewOf(a *service.Actor, r model.Ranking) (view, error) {
	if a.Can(rankingTarget(r), staffRoles...) {
		return view{staff: true}, nil
	}
	if r.State == model.RankingDraft {
		if len(firmIDs(a)) > 0 {
			return view{}, errRankingNotFound
		}
		return view{}, service.ErrOutOfScope
	}
	return view{firms: firmIDs(a), local: true}, nil
}

// sees reports whether a view that is not the staff's shows line l.
func (s *Service) sees(a *service.Actor, vw view, homes []int64, l model.RankingLine) bool {
	if slices.Contains(vw.firms, l.FirmID) {
		return true
	}
	if !vw.local || l.CompoundID == 0 {
		return false
	}
	return slices.Contains(homes, l.CompoundID) || a.Can(service.TargetOf(model.ScopeCompound, l.CompoundID, l.Ancestry))
}

// loadRanking reads a ranking (404 when there is none).
func (s *Service) loadRanking(ctx context.Context, id int64) (model.Ranking, error) {
	r, err := model.ByID[model.Ranking](ctx, s.db, id)
	return r, service.OrNotFound(err, errRankingNotFound)
}

// grantsOf are the actor's grants in one of roles over a node of the tree.
func grantsOf(a *service.Actor, roles ...string) (under []model.Grant, all bool) {
	for _, g := range a.Scopes(roles...) {
		if g.ScopeKind == model.ScopePlatform {
			return nil, true
		}
		if model.AncestryColumn(g.ScopeKind) != "" {
			under = append(under, g)
		}
	}
	return under, false
}

// roleOver names the role the actor acts in on t (for the exchange).
func roleOver(a *service.Actor, t service.Target, roles ...string) string {
	if g, ok := a.GrantFor(t, roles...); ok {
		return g.Role
	}
	return ""
}
