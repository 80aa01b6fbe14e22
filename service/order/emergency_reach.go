package order

import (
	"context"
	"errors"
	"slices"

	"redprop/model"
	"redprop/service"
)

// The responders of a community whom an emergency alert cannot reach now:
// no service-account follow, no allowance left in the mini-program and no
// phone for a text. The community's staff see them, to ask them to tap
// "allow" or follow the account before a call finds nobody.

// UnreachableResponder is one responder no channel reaches.
type UnreachableResponder struct {
	UserID      int64
	DisplayName string
	Grants      []model.Grant // his responder grants in the community
}

var (
	errUnreachableCommunity = service.Invalid("community_required", "请指定社区（community_id）")
	errUnreachableScope     = service.Forbidden("not_community_staff", "只有本社区的工作人员（或上级街道）可以查看无法联系的响应人")
)

// unreachableRoles may read the list: the community's own staff and duty
// staff, and the street above it.
var unreachableRoles = []string{model.RoleCommunityStaff, model.RoleCommunityDuty, model.RoleStreetStaff}

// UnreachableResponders lists the grid workers, building stewards, duty
// staff and staff of the community an emergency alert could reach on no
// channel right now, by user id.
func (s *Service) UnreachableResponders(ctx context.Context, a *service.Actor, communityID int64) ([]UnreachableResponder, error) {
	if a == nil {
		return nil, service.ErrUnauthenticated
	}
	if communityID <= 0 {
		return nil, errUnreachableCommunity
	}
	anc, err := model.ScopeAncestry(ctx, s.db, model.ScopeCommunity, communityID)
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		return nil, err
	}
	if err != nil || !a.Can(service.Target{Kind: model.ScopeCommunity, ID: communityID, Ancestry: anc}, unreachableRoles...) {
		return nil, errUnreachableScope
	}
	gs, err := model.GrantsInCommunity(ctx, s.db, communityID, chainRoles[:4])
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, g := range gs {
		if !slices.Contains(ids, g.UserID) {
			ids = append(ids, g.UserID)
		}
	}
	reach, err := s.msgs.Reach(ctx, s.db, kindNewReport, ids)
	if err != nil {
		return nil, err
	}
	var out []UnreachableResponder
	for _, id := range ids {
		if len(reach[id]) > 0 {
			continue
		}
		r := UnreachableResponder{UserID: id}
		for _, g := range gs {
			if g.UserID == id {
				r.Grants = append(r.Grants, g)
			}
		}
		if u, err := model.ByID[model.User](ctx, s.db, id); err == nil {
			r.DisplayName = u.DisplayName
		} else if !errors.Is(err, model.ErrNotFound) {
			return nil, err
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(x, y UnreachableResponder) int { return int(x.UserID - y.UserID) })
	return out, nil
}
