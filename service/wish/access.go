package wish

import (
	"context"

	"redprop/model"
	"redprop/service"
)

// Roles whose members claim wishes of the communities or compounds their
// grant covers: party members (the branch) and volunteers.
var helperRoles = []string{model.RolePartyBranch, model.RoleVolunteer}

// Roles that may post for a resident and thank in their name.
var stewardRoles = []string{model.RoleBuildingSteward, model.RoleGridWorker}

// Roles that see every wish of their scope and its volunteer hours.
var staffRoles = []string{model.RoleCommunityStaff, model.RoleStreetStaff, model.RoleDistrictStaff,
	model.RoleCityStaff, model.RolePlatformAdmin}

// standing is what one actor is to one wish.
type standing struct {
	own     bool // its author or the resident it is for
	claimer bool
	helper  bool // a party member or volunteer whose grant covers it: may claim
	steward bool // the building steward or grid worker: may thank for the resident
	staff   bool // community staff and above
}

func (s *Service) standing(ctx context.Context, a *service.Actor, w model.Wish) (standing, error) {
	t := householdTarget(w.HouseholdID, w.Ancestry)
	st := standing{
		own:     a.UserID == w.AuthorID || a.UserID == w.ResidentID,
		claimer: w.ClaimerID != 0 && a.UserID == w.ClaimerID,
		helper:  a.Can(t, helperRoles...),
		steward: a.Can(t, stewardRoles...),
		staff:   a.Can(t, staffRoles...),
	}
	if st == (standing{}) {
		return st, service.ErrOutOfScope
	}
	return st, nil
}

// allowed says whether the actor may take the action on the wish.
func allowed(action string, st standing, w model.Wish, a *service.Actor) error {
	switch action {
	case ActClaim:
		if !st.helper {
			return errNotHelper
		}
		if st.own {
			return errOwnWish
		}
	case ActRelease, ActFulfil:
		if w.ClaimerID != a.UserID {
			if w.State == model.WishOpen && action == ActRelease {
				return stateConflict(w)
			}
			return errNotClaimer
		}
	case ActThank:
		if !st.own && !st.steward {
			return errNotThanker
		}
	case ActWithdraw:
		if !st.own {
			return errNotOwner
		}
	}
	return nil
}

func householdTarget(id int64, anc model.Ancestry) service.Target {
	return service.TargetOf("household", id, anc)
}
