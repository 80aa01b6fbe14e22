package dashboard

import (
	"context"
	"errors"
	"slices"
	"strconv"

	"redprop/model"
	"redprop/service"
)

// Scope is a place the dashboards answer for: a node of the tree (grid,
// community, street, district, city) or a firm.
type Scope struct {
	Kind string
	ID   int64
	Name string
	model.Ancestry
}

// viewers are the roles that may read a tree scope's figures where their
// grant covers it; a firm's figures are its managers' too.
var viewers = []string{model.RolePlatformAdmin, model.RoleCityStaff, model.RoleDistrictStaff, model.RoleStreetStaff,
	model.RoleCommunityStaff, model.RoleCommunityDuty, model.RoleGridWorker}

// scopeKinds are the kinds a dashboard may be asked for.
var scopeKinds = []string{model.ScopeGrid, model.ScopeCommunity, model.ScopeStreet, model.ScopeDistrict, model.ScopeCity, model.ScopeFirm}

// childKind is the kind of a scope's children in a drill-down.
var childKind = map[string]string{
	model.ScopeCity: model.ScopeDistrict, model.ScopeDistrict: model.ScopeStreet,
	model.ScopeStreet: model.ScopeCommunity, model.ScopeCommunity: model.ScopeGrid,
}

// Parent is the scope one level above sc (the nearest the tree has: a
// street without a district has its city) when the actor may read its
// figures; ok is false at the top of what they may read, at the city,
// and for a firm. Only its kind and id are set.
func Parent(a *service.Actor, sc Scope) (parent Scope, ok bool) {
	kind := sc.Kind
	for {
		up := ""
		for k, child := range childKind {
			if child == kind {
				up = k
			}
		}
		if up == "" {
			return Scope{}, false
		}
		kind = up
		id := sc.Ancestry.Of(kind)
		if id == 0 {
			continue // a level this part of the tree leaves out
		}
		// The parent's own ancestry: the levels above it and itself,
		// none below (a grant there does not cover it).
		var anc model.Ancestry
		for _, k := range []string{model.ScopeCity, model.ScopeDistrict, model.ScopeStreet, model.ScopeCommunity} {
			anc.Set(k, sc.Ancestry.Of(k))
			if k == kind {
				break
			}
		}
		if !a.Can(service.TargetOf(kind, id, anc), viewers...) {
			return Scope{}, false
		}
		return Scope{Kind: kind, ID: id, Ancestry: anc}, true
	}
}

// childColumn is the orders column of a child kind, for the overdue count.
var childColumn = map[string]string{
	model.ScopeDistrict: "district_id", model.ScopeStreet: "street_id", model.ScopeCommunity: "community_id",
	model.ScopeGrid: "grid_id",
}

var (
	errScopeKind  = service.Invalid("bad_scope", "统计范围只能是 grid、community、street、district、city 或 firm")
	errScopeID    = service.Invalid("bad_scope_id", "请指定统计范围的编号")
	errScopeGone  = service.NotFound("scope_not_found", "统计范围不存在")
	errScopeAway  = service.Forbidden("out_of_scope", "该统计范围不在您的管辖范围内")
	errNoChildren = ErrNoChildren
)

// scope resolves and checks the scope kind/id for the actor: 404 when it
// does not exist, 403 when no grant of the actor covers it.
func (s *Service) scope(ctx context.Context, a *service.Actor, kind string, id int64) (Scope, error) {
	if a == nil {
		return Scope{}, service.ErrUnauthenticated
	}
	if !slices.Contains(scopeKinds, kind) {
		return Scope{}, errScopeKind
	}
	if id <= 0 {
		return Scope{}, errScopeID
	}
	r, err := s.scopes.get(kind+"|"+strconv.FormatInt(id, 10), s.clock.Now(), s.opts.Fresh, func() (scopeReading, error) {
		name, anc, err := model.ScopeOf(ctx, s.db, kind, id)
		return scopeReading{name: name, anc: anc}, err
	})
	if err != nil {
		return Scope{}, service.OrNotFound(err, errScopeGone)
	}
	sc := Scope{Kind: kind, ID: id, Name: r.name, Ancestry: r.anc}
	roles := viewers
	if kind == model.ScopeFirm {
		roles = append(slices.Clip(viewers), model.RoleFirmManager)
	}
	if !a.Can(service.TargetOf(kind, id, r.anc), roles...) {
		return Scope{}, errScopeAway
	}
	return sc, nil
}

// Scopes lists the scopes the actor's grants let them read, widest first:
// where a console opens its dashboard.
func (s *Service) Scopes(ctx context.Context, a *service.Actor) ([]Scope, error) {
	if a == nil {
		return nil, service.ErrUnauthenticated
	}
	var out []Scope
	seen := map[Scope]bool{}
	for _, g := range a.Grants {
		kind, id := g.ScopeKind, g.ScopeID
		switch {
		case g.Role == model.RoleFirmManager && kind == model.ScopeFirm:
		case slices.Contains(viewers, g.Role) && slices.Contains(scopeKinds, kind) && kind != model.ScopeFirm:
		default:
			continue
		}
		name, err := model.ScopeName(ctx, s.db, kind, id)
		if errors.Is(err, model.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		sc := Scope{Kind: kind, ID: id, Name: name, Ancestry: g.Ancestry}
		if !seen[sc] {
			seen[sc] = true
			out = append(out, sc)
		}
	}
	slices.SortStableFunc(out, func(x, y Scope) int {
		return slices.Index(scopeKinds, y.Kind) - slices.Index(scopeKinds, x.Kind)
	})
	return out, nil
}

// ErrNoChildren is Children's answer for a scope with nothing under it
// (a grid, a firm): pages and exports that show a drill-down leave it
// empty there.
var ErrNoChildren = service.Unprocessable("no_children", "该统计范围没有下级可以下钻")
