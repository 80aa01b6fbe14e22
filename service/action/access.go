package action

import (
	"context"
	"fmt"
	"slices"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// ledgerRoles see every item of their tree scope: the ledger of a
// compound, a community, a street and above.
var ledgerRoles = []string{model.RoleCommunityStaff, model.RoleStreetStaff, model.RoleDistrictStaff,
	model.RoleCityStaff, model.RolePlatformAdmin, model.RoleCommittee, model.RolePartyBranch}

// memberRoles are the roles that speak for each kind of owner
// organisation and may claim and do its items.
var memberRoles = map[string][]string{
	model.OwnerFirm:       {model.RoleFirmManager, model.RoleFirmWorker},
	model.OwnerCommittee:  {model.RoleCommittee},
	model.OwnerDepartment: {model.RoleDepartmentStaff},
	model.OwnerCommunity:  {model.RoleCommunityStaff},
}

func itemTarget(it *model.ActionItem) service.Target {
	return service.TargetOf("action_item", it.ID, it.Ancestry)
}

// ownerTarget places an item's owner organisation for a scope check: a
// firm or department is its own scope; a committee sits in its compound; a
// community is the item's community.
func (s *Service) ownerTarget(ctx context.Context, db *gorm.DB, it *model.ActionItem) (service.Target, error) {
	switch it.OwnerKind {
	case model.OwnerFirm:
		return service.TargetOf(model.ScopeFirm, it.OwnerID, model.Ancestry{}), nil
	case model.OwnerDepartment:
		return service.TargetOf(model.ScopeDepartment, it.OwnerID, model.Ancestry{}), nil
	case model.OwnerCommittee:
		c, err := model.ByID[model.Committee](ctx, db, it.OwnerID)
		if err != nil {
			return service.Target{}, fmt.Errorf("committee %d of action item %d: %w", it.OwnerID, it.ID, err)
		}
		return service.TargetOf(model.OwnerCommittee, c.ID, c.Ancestry), nil
	case model.OwnerCommunity:
		anc := communityAncestry(it.Ancestry)
		return service.TargetOf(model.ScopeCommunity, it.OwnerID, anc), nil
	}
	return service.Target{}, fmt.Errorf("action item %d: unknown owner kind %q", it.ID, it.OwnerKind)
}

// memberRole returns the role in which the actor speaks for the item's
// owner organisation, or "".
func (s *Service) memberRole(ctx context.Context, db *gorm.DB, a *service.Actor, it *model.ActionItem) (string, error) {
	roles := memberRoles[it.OwnerKind]
	if !a.Has(roles...) {
		return "", nil
	}
	t, err := s.ownerTarget(ctx, db, it)
	if err != nil {
		return "", err
	}
	g, ok := a.GrantFor(t, roles...)
	if !ok {
		return "", nil
	}
	return g.Role, nil
}

// relation is how an actor stands towards one item.
type relation struct {
	ledger    string // a ledger role over the item's scope
	member    string // a member role of the owner organisation
	organiser bool
	creator   bool
}

func (r relation) sees() bool { return r.ledger != "" || r.member != "" || r.organiser || r.creator }

func (s *Service) relationOf(ctx context.Context, db *gorm.DB, a *service.Actor, it *model.ActionItem) (relation, error) {
	var r relation
	if g, ok := a.GrantFor(itemTarget(it), ledgerRoles...); ok {
		r.ledger = g.Role
	}
	var err error
	if r.member, err = s.memberRole(ctx, db, a, it); err != nil {
		return r, err
	}
	// Organisers and creators act for an organisation: only while they
	// still hold a ledger role over the item (a worker who moved on to
	// another community keeps nothing of the old one's items).
	r.organiser = r.ledger != "" && a.UserID == it.OrganiserID
	r.creator = r.ledger != "" && a.UserID == it.CreatorID
	return r, nil
}

// reach is the part of the items the actor may see, with one condition
// per grant.
func reach(a *service.Actor) model.ActionReach {
	var r model.ActionReach
	for _, g := range a.Grants {
		if slices.Contains(ledgerRoles, g.Role) {
			if g.ScopeKind == model.ScopePlatform {
				return model.ActionReach{All: true}
			}
			r.Places = append(r.Places, model.Place{Kind: g.ScopeKind, ID: g.ScopeID})
		}
		switch g.Role {
		case model.RoleFirmManager, model.RoleFirmWorker:
			if g.ScopeKind == model.ScopeFirm {
				r.Owners = append(r.Owners, model.ActionOwner{Kind: model.OwnerFirm, ID: g.ScopeID})
			}
		case model.RoleDepartmentStaff:
			if g.ScopeKind == model.ScopeDepartment {
				r.Owners = append(r.Owners, model.ActionOwner{Kind: model.OwnerDepartment, ID: g.ScopeID})
			}
		case model.RoleCommittee:
			r.CommitteesIn = append(r.CommitteesIn, model.Place{Kind: g.ScopeKind, ID: g.ScopeID})
		}
	}
	return r
}

// communityAncestry is a community's own place in the tree, from any row
// below it.
func communityAncestry(a model.Ancestry) model.Ancestry {
	return model.Ancestry{CityID: a.CityID, DistrictID: a.DistrictID, StreetID: a.StreetID, CommunityID: a.CommunityID}
}

// compoundAncestry is a compound's own place, from any row in it.
func compoundAncestry(a model.Ancestry) model.Ancestry {
	a.GridID, a.BuildingID = 0, 0
	return a
}

// load reads one item through db (404 when missing).
func load(ctx context.Context, db *gorm.DB, id int64) (model.ActionItem, error) {
	it, err := model.ByID[model.ActionItem](ctx, db, id)
	return it, service.OrNotFound(err, errItemMissing)
}

// lock reads one item for update by its primary key (404 when missing).
func lock(ctx context.Context, tx *gorm.DB, id int64) (model.ActionItem, error) {
	it, err := model.LockByID[model.ActionItem](ctx, tx, id)
	return it, service.OrNotFound(err, errItemMissing)
}
