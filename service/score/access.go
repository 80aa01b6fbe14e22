package score

import (
	"redprop/model"
	"redprop/service"
)

// treeRoles see the scores of every firm and grid worker in their part of
// the tree.
var treeRoles = []string{model.RoleCityStaff, model.RoleDistrictStaff, model.RoleStreetStaff, model.RoleCommunityStaff}

// runRoles may run the scoring job; formulaRoles may add a formula version.
var (
	runRoles     = []string{model.RolePlatformAdmin, model.RoleCityStaff, model.RoleStreetStaff}
	formulaRoles = []string{model.RolePlatformAdmin, model.RoleCityStaff}
)

// visible returns the places whose scores of kind the actor sees (a firm
// place for a firm's managers), and whether they see every score.
func visible(a *service.Actor, kind string) ([]model.Place, bool) {
	if a.IsAdmin() {
		return nil, true
	}
	var out []model.Place
	for _, g := range a.Scopes(treeRoles...) {
		if p, ok := model.PlaceOf(g); ok {
			out = append(out, p)
		}
	}
	if kind == model.ScoreKindFirm {
		for _, g := range a.Scopes(model.RoleFirmManager) {
			out = append(out, model.Place{Kind: model.ScopeFirm, ID: g.ScopeID})
		}
	}
	if kind == model.ScoreKindGridWorker && len(out) == 0 && a.Has(model.RoleGridWorker) {
		// A grid worker sees their own score only (onlySelf narrows).
		for _, g := range a.Scopes(model.RoleGridWorker) {
			if p, ok := model.PlaceOf(g); ok {
				out = append(out, p)
			}
		}
	}
	return out, false
}

// onlySelf reports whether the actor sees grid workers' scores only as
// one of them: their own.
func onlySelf(a *service.Actor) bool {
	return len(a.Scopes(treeRoles...)) == 0 && a.Has(model.RoleGridWorker)
}

// canSee reports whether the actor may read one score row.
func canSee(a *service.Actor, s model.Score) bool {
	if a.IsAdmin() {
		return true
	}
	t := service.TargetOf(s.ScopeKind, s.ScopeID, s.Ancestry)
	if a.Can(t, treeRoles...) {
		return true
	}
	if s.Kind == model.ScoreKindFirm {
		return a.Can(service.TargetOf(model.ScopeFirm, s.FirmID, model.Ancestry{}), model.RoleFirmManager)
	}
	return s.UserID == a.UserID
}
