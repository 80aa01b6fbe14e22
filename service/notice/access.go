package notice

import (
	"context"
	"errors"
	"slices"
	"time"

	"redprop/model"
	"redprop/service"
)

// Roles that publish for each publisher kind.
var publisherRole = map[string]string{
	ByCommunity:   model.RoleCommunityStaff,
	ByStreet:      model.RoleStreetStaff,
	ByCommittee:   model.RoleCommittee,
	ByFirm:        model.RoleFirmManager,
	ByPartyBranch: model.RolePartyBranch,
}

// Staff of the region tree who oversee every notice of their scope:
// they see its counts and may withdraw it.
var overseerRoles = []string{model.RoleCommunityStaff, model.RoleStreetStaff, model.RoleDistrictStaff,
	model.RoleCityStaff, model.RolePlatformAdmin}

// Roles that see the counts and the households not reached of their own
// grid or building, and record "told in person" there.
var doorRoles = []string{model.RoleGridWorker, model.RoleBuildingSteward}

var (
	errNotPublisher = service.Forbidden("not_publisher", "您不能以该单位的名义向所选范围发布公告")
	errNoContract   = service.Forbidden("no_contract", "物业企业只能向与其有在期合同的小区发布公告")
	errFirmScope    = service.Forbidden("firm_scope", "物业企业只能向其服务的小区或楼栋发布公告")
	errNoCommittee  = service.Unprocessable("no_committee", "该小区尚未成立业委会或物管会")
	errNotStaff     = service.Forbidden("not_notice_staff", "只有发布单位、网格员、楼栋长和上级工作人员可以查看送达情况")
	errNotManager   = service.Forbidden("not_notice_manager", "只有发布单位和上级工作人员可以撤回公告")
)

// scope is a notice's scope read from the tree.
type scope struct {
	anc      model.Ancestry
	targets  []service.Target // every node told (one, or the buildings)
	compound int64            // the compound, when the scope lies within one
}

func (s *Service) resolveScope(ctx context.Context, kind string, ids []int64) (scope, error) {
	var sc scope
	switch kind {
	case ScopeStreet, ScopeCommunity:
		r, err := model.TakeRegion(ctx, s.db, ids[0], kind)
		if err != nil {
			return sc, service.OrNotFound(err, errScopeMissing)
		}
		sc.anc = r.Ancestry
		sc.targets = []service.Target{service.TargetOf(kind, r.ID, r.Ancestry)}
	case ScopeCompound:
		c, err := model.ByID[model.Compound](ctx, s.db, ids[0])
		if err != nil {
			return sc, service.OrNotFound(err, errScopeMissing)
		}
		sc.anc, sc.compound = c.Ancestry, c.ID
		sc.targets = []service.Target{service.TargetOf(kind, c.ID, c.Ancestry)}
	case ScopeBuilding, ScopeBuildings:
		bs, err := model.AllByID[model.Building](ctx, s.db, ids)
		if err != nil {
			return sc, err
		}
		if len(bs) != len(ids) {
			return sc, errScopeMissing
		}
		for _, b := range bs {
			if b.CompoundID != bs[0].CompoundID {
				return sc, errScopeSpread
			}
			sc.targets = append(sc.targets, service.TargetOf(ScopeBuilding, b.ID, b.Ancestry))
		}
		sc.compound = bs[0].CompoundID
		sc.anc = bs[0].Ancestry
		if kind == ScopeBuildings {
			// The place of several buildings is their compound.
			sc.anc.GridID, sc.anc.BuildingID = 0, 0
		}
	}
	return sc, nil
}

func canAll(a *service.Actor, ts []service.Target, roles ...string) bool {
	for _, t := range ts {
		if !a.Can(t, roles...) {
			return false
		}
	}
	return len(ts) > 0
}

// publisher is who a notice is by.
type publisher struct {
	id   int64
	name string
}

// publisherFor checks that the actor may publish as kind to sc and
// names the publisher: the community or street of the scope, the
// compound's committee, the contracted firm, or the party branch of the
// actor's grant.
func (s *Service) publisherFor(ctx context.Context, a *service.Actor, kind string, sc scope, now time.Time) (publisher, error) {
	role := publisherRole[kind]
	switch kind {
	case ByCommunity, ByStreet:
		if !canAll(a, sc.targets, role) {
			return publisher{}, errNotPublisher
		}
		id := sc.anc.CommunityID
		if kind == ByStreet {
			id = sc.anc.StreetID
		}
		names, err := model.NamesOf(ctx, s.db, &model.Region{}, "name", []int64{id})
		return publisher{id: id, name: names[id]}, err
	case ByCommittee:
		if sc.compound == 0 || !canAll(a, sc.targets, role) {
			return publisher{}, errNotPublisher
		}
		c, err := model.CommitteeOf(ctx, s.db, sc.compound)
		if errors.Is(err, model.ErrNotFound) {
			return publisher{}, errNoCommittee
		}
		return publisher{id: c.ID, name: c.Name}, err
	case ByFirm:
		var firms []int64
		for _, g := range a.Scopes(role) {
			if g.ScopeKind == model.ScopeFirm {
				firms = append(firms, g.ScopeID)
			}
		}
		if len(firms) == 0 {
			return publisher{}, errNotPublisher
		}
		if sc.compound == 0 {
			return publisher{}, errFirmScope
		}
		firm, err := model.ContractedFirm(ctx, s.db, sc.compound, contractDay(now))
		if err != nil {
			return publisher{}, err
		}
		if firm == 0 || !slices.Contains(firms, firm) {
			return publisher{}, errNoContract
		}
		names, err := model.NamesOf(ctx, s.db, &model.Firm{}, "name", []int64{firm})
		return publisher{id: firm, name: names[firm]}, err
	case ByPartyBranch:
		g, ok := a.GrantFor(sc.targets[0], role)
		if !ok || !canAll(a, sc.targets, role) {
			return publisher{}, errNotPublisher
		}
		var table any = &model.Region{}
		if g.ScopeKind == model.ScopeCompound {
			table = &model.Compound{}
		}
		names, err := model.NamesOf(ctx, s.db, table, "name", []int64{g.ScopeID})
		return publisher{id: g.ScopeID, name: names[g.ScopeID] + "党支部"}, err
	}
	return publisher{}, errPublisher
}

// standing is what one actor is to one notice.
type standing struct {
	// told are the actor's households that received it.
	told []model.Receipt
	// manage: the author, the publisher's own people, the overseeing
	// staff. They see every count and may withdraw it.
	manage bool
	// within are the places of a grid worker's or steward's grants that
	// lie in the notice's scope: they see those households.
	within []model.Place
}

func (st standing) none() bool { return len(st.told) == 0 && !st.manage && len(st.within) == 0 }

// staff says whether the actor sees counts (of all, or of within).
func (st standing) staff() bool { return st.manage || len(st.within) > 0 }

// target is the node a notice's scope stands for: the compound of a list
// of buildings.
func target(n model.Notice) service.Target {
	if n.ScopeKind == ScopeBuildings {
		return service.TargetOf(ScopeCompound, n.CompoundID, n.Ancestry)
	}
	return service.TargetOf(n.ScopeKind, n.ScopeIDs[0], n.Ancestry)
}

func (s *Service) standing(ctx context.Context, a *service.Actor, n model.Notice) (standing, error) {
	var st standing
	t := target(n)
	st.manage = a.UserID == n.AuthorID || a.Can(t, overseerRoles...)
	if !st.manage {
		switch n.PublisherKind {
		case ByFirm:
			for _, g := range a.Scopes(model.RoleFirmManager) {
				st.manage = st.manage || g.ScopeKind == model.ScopeFirm && g.ScopeID == n.PublisherID
			}
		case ByCommittee, ByPartyBranch:
			st.manage = a.Can(t, publisherRole[n.PublisherKind])
		}
	}
	if !st.manage {
		for _, g := range a.Scopes(doorRoles...) {
			if inScope(g, n) {
				st.within = append(st.within, model.Place{Kind: g.ScopeKind, ID: g.ScopeID})
			}
		}
	}
	if n.State != model.NoticeScheduled {
		households, err := model.HouseholdsOfUser(ctx, s.db, a.UserID)
		if err != nil {
			return st, err
		}
		if st.told, err = model.ReceiptsOf(ctx, s.db, model.SubjectNotice, []int64{n.ID}, households); err != nil {
			return st, err
		}
	}
	return st, nil
}

// inScope says whether a grid worker's or steward's grant may hold
// households the notice told: a building of its scope, or a grid of its
// community (of its street, for a street's notice).
func inScope(g model.Grant, n model.Notice) bool {
	switch g.ScopeKind {
	case model.ScopeBuilding:
		if n.ScopeKind == ScopeBuilding || n.ScopeKind == ScopeBuildings {
			return slices.Contains(n.ScopeIDs, g.ScopeID)
		}
		return service.ScopeCovers(model.Grant{ScopeKind: n.ScopeKind, ScopeID: n.ScopeIDs[0]},
			service.TargetOf(model.ScopeBuilding, g.ScopeID, g.Ancestry))
	case model.ScopeGrid:
		if n.ScopeKind == ScopeStreet {
			return g.StreetID == n.StreetID
		}
		return g.CommunityID != 0 && g.CommunityID == n.CommunityID
	}
	return false
}

// visible loads a notice the actor may see: a resident whose household
// was told, or staff of it. Anyone else is told it does not exist.
func (s *Service) visible(ctx context.Context, a *service.Actor, id int64) (model.Notice, error) {
	n, _, err := s.load(ctx, a, id)
	return n, err
}

func (s *Service) load(ctx context.Context, a *service.Actor, id int64) (model.Notice, standing, error) {
	if a == nil {
		return model.Notice{}, standing{}, service.ErrUnauthenticated
	}
	n, err := model.ByID[model.Notice](ctx, s.db, id)
	if err != nil {
		return n, standing{}, service.OrNotFound(err, errNoticeNotFound)
	}
	st, err := s.standing(ctx, a, n)
	if err != nil {
		return n, st, err
	}
	if st.none() {
		return model.Notice{}, st, errNoticeNotFound
	}
	return n, st, nil
}
