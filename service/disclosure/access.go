package disclosure

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"redprop/model"
	"redprop/service"
)

var (
	errNoContract = service.Forbidden("no_live_contract", "贵公司与该小区没有在期的物业服务合同，不能发布该小区的公示")
	errNotSigner  = service.Forbidden("not_countersigner", "只有该小区业委会（未成立业委会的由社区）可以会签公共收益报告")
	errPeriod     = service.Invalid("bad_period", "公示期间须写成 2026-10（月）、2026Q3（季度）、2026H1（半年）或 2026（年度）")
	errFuture     = service.Unprocessable("future_period", "该期间尚未开始，不能公示其公共收益")
)

// channelStaff may publish the complaint channels of the compounds their
// grant covers; the serving firm's manager publishes every section.
var channelStaff = []string{model.RoleCommunityStaff}

// staffRoles see every board of their scope.
var staffRoles = []string{model.RoleCommunityStaff, model.RoleStreetStaff, model.RoleDistrictStaff, model.RoleCityStaff,
	model.RolePlatformAdmin, model.RoleGridWorker, model.RoleBuildingSteward, model.RoleCommittee, model.RolePartyBranch,
	model.RoleCommunityDuty, model.RoleVolunteer}

func compoundTarget(c model.Compound) service.Target {
	return service.TargetOf(model.ScopeCompound, c.ID, c.Ancestry)
}

func managedFirms(a *service.Actor) []int64 {
	var ids []int64
	for _, g := range a.Scopes(model.RoleFirmManager) {
		if g.ScopeKind == model.ScopeFirm {
			ids = append(ids, g.ScopeID)
		}
	}
	return ids
}

func firmPeople(a *service.Actor) []int64 {
	var ids []int64
	for _, g := range a.Scopes(model.RoleFirmManager, model.RoleFirmWorker) {
		if g.ScopeKind == model.ScopeFirm {
			ids = append(ids, g.ScopeID)
		}
	}
	return ids
}

// compound reads a compound (404 when there is none).
func (s *Service) compound(ctx context.Context, id int64) (model.Compound, error) {
	c, err := model.ByID[model.Compound](ctx, s.db, id)
	return c, service.OrNotFound(err, errCompound)
}

// mayRead is the rule of who reads a compound's board: its residents,
// staff and volunteers whose grant covers it, and the people of the firm
// serving it today. Everyone else is refused, a resident of another
// compound too.
func (s *Service) mayRead(ctx context.Context, a *service.Actor, c model.Compound) error {
	if a == nil {
		return service.ErrUnauthenticated
	}
	if a.Can(compoundTarget(c), staffRoles...) {
		return nil
	}
	// A grid or a building does not contain a compound (a compound may
	// span grids): their workers and stewards read the boards of the
	// compounds they have buildings of.
	var grids, buildings []int64
	for _, g := range a.Scopes(model.RoleGridWorker, model.RoleBuildingSteward) {
		switch g.ScopeKind {
		case model.ScopeGrid:
			grids = append(grids, g.ScopeID)
		case model.ScopeBuilding:
			buildings = append(buildings, g.ScopeID)
		}
	}
	if meets, err := model.CompoundMeets(ctx, s.db, c.ID, grids, buildings); err != nil || meets {
		return err
	}
	lives, err := model.LivesInCompound(ctx, s.db, a.UserID, c.ID)
	if err != nil || lives {
		return err
	}
	if firms := firmPeople(a); len(firms) > 0 {
		ok, err := model.FirmsServe(ctx, s.db, firms, c.ID, today(s.clock.Now()))
		if err != nil || ok {
			return err
		}
	}
	return service.ErrOutOfScope
}

// publisher is who publishes a section for a compound: a manager of the
// firm serving it under a contract in force today, (channels only) the
// community's staff, or (revenue only) whoever countersigns its reports. It returns the contract and firm the board
// speaks of (zero when the compound has none).
type publisher struct {
	firmID   int64
	contract model.Contract
	firm     model.Firm
	hasFirm  bool
}

func (s *Service) publisher(ctx context.Context, a *service.Actor, c model.Compound, section string) (publisher, error) {
	if a == nil {
		return publisher{}, service.ErrUnauthenticated
	}
	k, f, found, err := model.LiveContract(ctx, s.db, c.ID, today(s.clock.Now()))
	if err != nil {
		return publisher{}, err
	}
	p := publisher{contract: k, firm: f, hasFirm: found}
	for _, id := range managedFirms(a) {
		if found && id == f.ID {
			p.firmID = id
			return p, nil
		}
	}
	if section == model.DisclosureChannels && a.Can(compoundTarget(c), channelStaff...) {
		return p, nil
	}
	// The committee (the community where there is none) publishes revenue
	// reports as well as countersigning them.
	if section == model.DisclosureRevenue {
		_, err := s.countersigner(ctx, a, c)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, errNotSigner) {
			return publisher{}, err
		}
	}
	if len(managedFirms(a)) > 0 {
		return publisher{}, errNoContract
	}
	return publisher{}, service.ErrForbidden
}

// countersigner checks that the actor may countersign a revenue report
// of compound c: a committee member of the compound when it has a
// committee, else the community's staff. It returns the role signed in.
func (s *Service) countersigner(ctx context.Context, a *service.Actor, c model.Compound) (string, error) {
	has, err := model.HasCommittee(ctx, s.db, c.ID)
	if err != nil {
		return "", err
	}
	role := model.RoleCommunityStaff
	if has {
		role = model.RoleCommittee
	}
	if !a.Can(compoundTarget(c), role) {
		return "", errNotSigner
	}
	return role, nil
}

var periodForm = regexp.MustCompile(`^(20[0-9]{2})(?:-(0[1-9]|1[0-2])|Q([1-4])|H([12]))?$`)

// parsePeriod reads a revenue period: its first day and its title.
func parsePeriod(p string) (time.Time, string, error) {
	m := periodForm.FindStringSubmatch(p)
	if m == nil {
		return time.Time{}, "", errPeriod
	}
	y, _ := strconv.Atoi(m[1])
	switch {
	case m[2] != "":
		mo, _ := strconv.Atoi(m[2])
		return time.Date(y, time.Month(mo), 1, 0, 0, 0, 0, time.UTC), fmt.Sprintf("%d年%d月", y, mo), nil
	case m[3] != "":
		q, _ := strconv.Atoi(m[3])
		return time.Date(y, time.Month(3*q-2), 1, 0, 0, 0, 0, time.UTC), fmt.Sprintf("%d年第%d季度", y, q), nil
	case m[4] == "1":
		return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC), fmt.Sprintf("%d年上半年", y), nil
	case m[4] == "2":
		return time.Date(y, 7, 1, 0, 0, 0, 0, time.UTC), fmt.Sprintf("%d年下半年", y), nil
	}
	return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC), fmt.Sprintf("%d年度", y), nil
}

func periodTitle(p string) string {
	_, t, err := parsePeriod(p)
	if err != nil {
		return p
	}
	return t
}
