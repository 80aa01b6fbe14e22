package vote

import (
	"context"

	"redprop/model"
	"redprop/service"
)

// Roles that see a vote of their scope with its running participation:
// the committee and party branch of the compound, and the staff of the
// tree above it.
var managerRoles = []string{
	model.RoleCommittee, model.RolePartyBranch, model.RoleCommunityStaff,
	model.RoleStreetStaff, model.RoleDistrictStaff, model.RoleCityStaff, model.RolePlatformAdmin,
}

// access is what an actor may do with one vote.
type access struct {
	manager   bool // sees drafts and the running participation
	organiser bool // may open and cancel
	resident  bool // lives in the compound
}

func (s *Service) access(ctx context.Context, a *service.Actor, v model.Vote) (access, error) {
	acc := access{manager: a.Can(target(v), managerRoles...), organiser: a.Can(target(v), v.OrganiserRole)}
	var err error
	if acc.resident, err = model.LivesInCompound(ctx, s.db, a.UserID, v.CompoundID); err != nil {
		return acc, err
	}
	if acc.manager || acc.organiser {
		return acc, nil
	}
	if !acc.resident {
		return acc, service.ErrOutOfScope
	}
	// Residents never see what was not announced.
	if v.State == model.VoteDraft || v.State == model.VoteCancelled {
		return acc, errVoteNotFound
	}
	return acc, nil
}

// mayOrganise checks that the actor holds the vote's organiser role over
// its compound; others in scope get 403, the rest 403 out of scope.
func (s *Service) mayOrganise(ctx context.Context, a *service.Actor, v model.Vote) error {
	if a.Can(target(v), v.OrganiserRole) {
		return nil
	}
	if _, err := s.access(ctx, a, v); err != nil {
		return err
	}
	return organiserError(v.OrganiserRole)
}

// organiserRole is who runs the votes of a compound: its committee, or
// the community's staff where it has none (支代业/物管会).
func (s *Service) organiserRole(ctx context.Context, compoundID int64) (string, error) {
	has, err := model.HasCommittee(ctx, s.db, compoundID)
	if err != nil {
		return "", err
	}
	if has {
		return model.RoleCommittee, nil
	}
	return model.RoleCommunityStaff, nil
}

func organiserError(role string) error {
	if role == model.RoleCommittee {
		return errCommitteeOnly
	}
	return errCommunityOnly
}

func target(v model.Vote) service.Target {
	return service.TargetOf(model.ScopeCompound, v.CompoundID, v.Ancestry)
}
