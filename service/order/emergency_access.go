package order

import (
	"context"
	"slices"

	"redprop/model"
	"redprop/service"
)

// Who may see and act on emergency calls and the register of vulnerable
// people.

// responderRoles may see, acknowledge, arrive at and resolve a call in
// their scope: the three alerted groups, the community's dispatchers
// (alerted when it has nobody on duty) and the street it may escalate to.
var responderRoles = []string{model.RoleGridWorker, model.RoleBuildingSteward, model.RoleCommunityDuty,
	model.RoleCommunityStaff, model.RoleStreetStaff}

// vulnerableRoles may list the registrations of their scope; only grid
// workers register and remove them.
var vulnerableRoles = []string{model.RoleGridWorker, model.RoleCommunityDuty, model.RoleCommunityStaff}

// treeScopesOf lists the parts of the tree the actor's grants of roles
// cover; a platform admin's covers all of it.
func treeScopesOf(a *service.Actor, roles []string) []model.Place {
	var out []model.Place
	for _, g := range a.Scopes(append(slices.Clone(roles), model.RolePlatformAdmin)...) {
		if ts, ok := model.PlaceOf(g); ok {
			out = append(out, ts)
		}
	}
	return out
}

func callTarget(c *model.EmergencyCall) service.Target {
	return service.Target{Kind: "household", ID: c.HouseholdID, Ancestry: c.Ancestry}
}

// responderRole is the role in which the actor responds to c ("" if not).
func responderRole(a *service.Actor, c *model.EmergencyCall) string {
	g, ok := a.GrantFor(callTarget(c), responderRoles...)
	if !ok {
		return ""
	}
	return g.Role
}

// isResponder reports whether the actor sees c as a responder does: a
// platform admin sees every call but responds to none.
func isResponder(a *service.Actor, c *model.EmergencyCall) bool {
	return responderRole(a, c) != "" || a.IsAdmin()
}

// isCallFamily reports whether the actor raised the call, is the person it
// is for, or lives in its household.
func (s *Service) isCallFamily(ctx context.Context, a *service.Actor, c *model.EmergencyCall) (bool, error) {
	if a.UserID == c.CallerID {
		return true, nil
	}
	lives, err := model.LivesIn(ctx, s.db, a.UserID, c.HouseholdID)
	if err != nil || lives {
		return lives, err
	}
	return model.IsVulnerableUser(ctx, s.db, c.VulnerableID, a.UserID)
}
