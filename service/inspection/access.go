package inspection

import (
	"slices"

	"redprop/model"
	"redprop/service"
)

// inspectorRoles may inspect a compound in their scope.
var inspectorRoles = []string{model.RoleCommunityStaff, model.RoleStreetStaff}

// officialRoles read every inspection of their tree scope.
var officialRoles = []string{model.RoleCommunityStaff, model.RoleStreetStaff, model.RoleDistrictStaff,
	model.RoleCityStaff, model.RolePlatformAdmin}

func inspectionTarget(in *model.Inspection) service.Target {
	return service.TargetOf("inspection", in.ID, in.Ancestry)
}

func firmTarget(firmID int64) service.Target {
	return service.TargetOf(model.ScopeFirm, firmID, model.Ancestry{})
}

// sees reports whether the actor may read an inspection: staff over its
// compound, or a manager of the firm inspected.
func sees(a *service.Actor, in *model.Inspection) bool {
	return a.Can(inspectionTarget(in), officialRoles...) || a.Can(firmTarget(in.FirmID), model.RoleFirmManager)
}

// reach is the part of the inspections the actor may list, one
// condition per grant.
func reach(a *service.Actor) model.InspectionReach {
	var r model.InspectionReach
	for _, g := range a.Grants {
		if slices.Contains(officialRoles, g.Role) {
			if g.ScopeKind == model.ScopePlatform {
				return model.InspectionReach{All: true}
			}
			r.Places = append(r.Places, model.Place{Kind: g.ScopeKind, ID: g.ScopeID})
		}
		if g.Role == model.RoleFirmManager && g.ScopeKind == model.ScopeFirm {
			r.Firms = append(r.Firms, g.ScopeID)
		}
	}
	return r
}

// managesChecklist reports whether the actor may add checklists and
// versions at a scope: city staff of the city, street staff of the
// street, the platform admin anywhere (and alone for the default sheet).
func managesChecklist(a *service.Actor, kind string, id int64, anc model.Ancestry) bool {
	if a.IsAdmin() {
		return true
	}
	switch kind {
	case model.ScopeCity:
		return a.Can(service.TargetOf(model.ScopeCity, id, anc), model.RoleCityStaff)
	case model.ScopeStreet:
		return a.Can(service.TargetOf(model.ScopeStreet, id, anc), model.RoleStreetStaff, model.RoleCityStaff)
	}
	return false
}

// readsChecklist reports whether the actor may read a checklist: anyone
// with a grant in its city (staff and firms work to it), everyone with a
// grant for the default sheet.
func readsChecklist(a *service.Actor, c *model.Checklist) bool {
	if a == nil {
		return false
	}
	for _, g := range a.Grants {
		if g.ScopeKind == model.ScopePlatform || c.ScopeKind == model.ScopeAll {
			return true
		}
		if g.CityID == c.CityID || (g.ScopeKind == model.ScopeCity && g.ScopeID == c.CityID) {
			return true
		}
	}
	return false
}
