package vote

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// View is a vote as one actor may see it.
type View struct {
	Vote         model.Vote
	CompoundName string
	Special      bool // needs 3/4 of those who took part (民法典 art. 278 ¶2)
	CanOrganise  bool // the actor may open or cancel it
	// Participation is the running count for the committee and the staff
	// over the compound while the vote is open (how many took part, never
	// who chose what), and the final count for everyone once it closed.
	Participation *Participation
	// Mine are the actor's own households as an owner in the compound,
	// with the ballot each cast (Get only).
	Mine []MyHousehold
}

// Participation is how many took part, against the totals of the roll.
type Participation struct {
	Ballots         int64
	Voted           Count
	Total           Count
	TotalHouseholds int64
	Quorum          bool
}

// MyHousehold is one household the actor owns in the vote's compound.
type MyHousehold struct {
	HouseholdID int64
	Label       string
	AreaCentiM2 int64 // its weight: the area on the roll once the vote opened
	OnRoll      bool
	Choice      *int // the choice cast for it, if any
	CastAt      *time.Time
	CastBy      int64
}

// access is what an actor may do with one vote.
type access struct {
	manager   bool // sees drafts and the running participation
	organiser bool // may open and cancel
	resident  bool // lives in the compound
}

func (s *Service) access(ctx context.Context, a *service.Actor, v model.Vote) (access, error) {
	acc := access{manager: a.Can(target(v), managerRoles...), organiser: a.Can(target(v), v.OrganiserRole)}
	var n int64
	if err := s.db.WithContext(ctx).Model(&model.Residency{}).
		Where("user_id = ? AND compound_id = ?", a.UserID, v.CompoundID).Limit(1).Count(&n).Error; err != nil {
		return acc, err
	}
	acc.resident = n > 0
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

// Get returns one vote: to its compound's residents once it opened, and
// to the committee, the party branch and staff over the compound always.
func (s *Service) Get(ctx context.Context, a *service.Actor, id int64) (View, error) {
	if a == nil {
		return View{}, service.ErrUnauthenticated
	}
	v, err := take(ctx, s.db, id, false)
	if err != nil {
		return View{}, err
	}
	acc, err := s.access(ctx, a, v)
	if err != nil {
		return View{}, err
	}
	vs, err := s.views(ctx, a, []model.Vote{v})
	if err != nil {
		return View{}, err
	}
	view := vs[0]
	if v.State == model.VoteOpen && (acc.manager || acc.organiser) {
		p, err := s.running(ctx, v)
		if err != nil {
			return View{}, err
		}
		view.Participation = &p
	}
	if view.Mine, err = s.mine(ctx, a, v); err != nil {
		return View{}, err
	}
	return view, nil
}

// running counts the ballots of an open vote so far.
func (s *Service) running(ctx context.Context, v model.Vote) (Participation, error) {
	var r struct {
		Ballots int64
		Area    int64
		Heads   int64
	}
	err := s.db.WithContext(ctx).Raw(`SELECT COUNT(*) AS ballots, COALESCE(SUM(area_centi_m2), 0) AS area,
		COALESCE(SUM(heads), 0) AS heads FROM ballots WHERE vote_id = ?`, v.ID).Scan(&r).Error
	if err != nil {
		return Participation{}, err
	}
	p := Participation{
		Ballots: r.Ballots, Voted: Count{AreaCentiM2: r.Area, Heads: r.Heads},
		Total:           Count{AreaCentiM2: v.TotalAreaCentiM2, Heads: v.TotalHeads},
		TotalHouseholds: v.TotalHouseholds,
	}
	p.Quorum = Quorum(p.Total, p.Voted)
	return p, nil
}

// final is the frozen participation of a closed vote.
func final(v model.Vote) *Participation {
	p := &Participation{
		Ballots: v.Ballots, Voted: Count{AreaCentiM2: v.VotedAreaCentiM2, Heads: v.VotedHeads},
		Total:           Count{AreaCentiM2: v.TotalAreaCentiM2, Heads: v.TotalHeads},
		TotalHouseholds: v.TotalHouseholds,
	}
	p.Quorum = Quorum(p.Total, p.Voted)
	return p
}

// mine lists the actor's households as an owner in the vote's compound
// and what each cast.
func (s *Service) mine(ctx context.Context, a *service.Actor, v model.Vote) ([]MyHousehold, error) {
	db := s.db.WithContext(ctx)
	var ids []int64
	if err := db.Model(&model.Residency{}).Where("user_id = ? AND compound_id = ? AND relation = ?",
		a.UserID, v.CompoundID, model.RelationOwner).Order("household_id").Pluck("household_id", &ids).Error; err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	labels, homes, err := householdLabels(ctx, db, ids)
	if err != nil {
		return nil, err
	}
	var rolls []model.VoteRoll
	var ballots []model.Ballot
	if v.State != model.VoteDraft && v.State != model.VoteCancelled {
		if err := db.Where("vote_id = ? AND household_id IN ?", v.ID, ids).Find(&rolls).Error; err != nil {
			return nil, err
		}
		if err := db.Where("vote_id = ? AND household_id IN ?", v.ID, ids).Find(&ballots).Error; err != nil {
			return nil, err
		}
	}
	out := make([]MyHousehold, 0, len(ids))
	for _, id := range ids {
		m := MyHousehold{HouseholdID: id, Label: labels[id], AreaCentiM2: homes[id].AreaCentiM2}
		for _, r := range rolls {
			if r.HouseholdID == id {
				m.OnRoll, m.AreaCentiM2 = true, r.AreaCentiM2
			}
		}
		for _, b := range ballots {
			if b.HouseholdID == id {
				choice, at := b.Choice, b.CreatedAt
				m.Choice, m.CastAt, m.CastBy = &choice, &at, b.UserID
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// householdLabels names households as 1号楼1单元101.
func householdLabels(ctx context.Context, db *gorm.DB, ids []int64) (map[int64]string, map[int64]model.Household, error) {
	var hs []model.Household
	if err := db.WithContext(ctx).Where("id IN ?", ids).Find(&hs).Error; err != nil {
		return nil, nil, err
	}
	var bids []int64
	for _, h := range hs {
		bids = append(bids, h.BuildingID)
	}
	var bs []model.Building
	if len(bids) > 0 {
		if err := db.WithContext(ctx).Where("id IN ?", bids).Find(&bs).Error; err != nil {
			return nil, nil, err
		}
	}
	names := make(map[int64]string, len(bs))
	for _, b := range bs {
		names[b.ID] = b.Name
	}
	labels := make(map[int64]string, len(hs))
	homes := make(map[int64]model.Household, len(hs))
	for _, h := range hs {
		l := names[h.BuildingID]
		if h.Unit != "" {
			l += h.Unit + "单元"
		}
		labels[h.ID], homes[h.ID] = l+h.Room, h
	}
	return labels, homes, nil
}

// views adds compound names and the actor's standing to votes.
func (s *Service) views(ctx context.Context, a *service.Actor, vs []model.Vote) ([]View, error) {
	var cids []int64
	for _, v := range vs {
		cids = append(cids, v.CompoundID)
	}
	var cs []model.Compound
	if len(cids) > 0 {
		if err := s.db.WithContext(ctx).Select("id", "name").Where("id IN ?", cids).Find(&cs).Error; err != nil {
			return nil, err
		}
	}
	names := make(map[int64]string, len(cs))
	for _, c := range cs {
		names[c.ID] = c.Name
	}
	out := make([]View, 0, len(vs))
	for _, v := range vs {
		view := View{Vote: v, CompoundName: names[v.CompoundID], Special: NeedsThreeQuarters(&v),
			CanOrganise: a.Can(target(v), v.OrganiserRole)}
		if v.State == model.VoteClosed {
			view.Participation = final(v)
		}
		out = append(out, view)
	}
	return out, nil
}

// Filter narrows a list of votes.
type Filter struct {
	CompoundID int64
	State      string
}

// scopeColumn is the ancestry column a grant's scope kind is matched on.
var scopeColumn = map[string]string{
	model.ScopeCity: "city_id", model.ScopeDistrict: "district_id", model.ScopeStreet: "street_id",
	model.ScopeCommunity: "community_id", model.ScopeCompound: "compound_id",
}

// List returns the votes the actor may see, newest first: those of the
// compounds they live in once opened, and every vote of the compounds
// they oversee.
func (s *Service) List(ctx context.Context, a *service.Actor, f Filter, p service.Page) (service.Paged[View], error) {
	if a == nil {
		return service.Paged[View]{}, service.ErrUnauthenticated
	}
	if f.State != "" && !slices.Contains([]string{model.VoteDraft, model.VoteOpen, model.VoteClosed, model.VoteCancelled}, f.State) {
		return service.Paged[View]{}, errBadState
	}
	db := s.db.WithContext(ctx)
	var homes []int64
	if err := db.Model(&model.Residency{}).Where("user_id = ?", a.UserID).Distinct().Pluck("compound_id", &homes).Error; err != nil {
		return service.Paged[View]{}, err
	}
	var conds []string
	var args []any
	if len(homes) > 0 {
		conds = append(conds, "(compound_id IN ? AND state IN ?)")
		args = append(args, homes, []string{model.VoteOpen, model.VoteClosed})
	}
	all := false
	for _, g := range a.Scopes(managerRoles...) {
		if g.ScopeKind == model.ScopePlatform {
			all = true
			break
		}
		if col, ok := scopeColumn[g.ScopeKind]; ok {
			conds = append(conds, col+" = ?")
			args = append(args, g.ScopeID)
		}
	}
	if !all && len(conds) == 0 {
		if f.CompoundID != 0 {
			return service.Paged[View]{}, service.ErrOutOfScope
		}
		return service.Paged[View]{Items: []View{}}, nil
	}
	q := db.Model(&model.Vote{})
	if !all {
		q = q.Where(strings.Join(conds, " OR "), args...)
	}
	if f.CompoundID != 0 {
		var c model.Compound
		if err := model.Translate(db.Take(&c, f.CompoundID).Error); err != nil {
			if errors.Is(err, model.ErrNotFound) {
				return service.Paged[View]{}, errCompound
			}
			return service.Paged[View]{}, err
		}
		c.CompoundID = c.ID
		if !all && !slices.Contains(homes, c.ID) && !a.Can(service.TargetOf(model.ScopeCompound, c.ID, c.Ancestry), managerRoles...) {
			return service.Paged[View]{}, service.ErrOutOfScope
		}
		q = q.Where("compound_id = ?", f.CompoundID)
	}
	if f.State != "" {
		q = q.Where("state = ?", f.State)
	}
	if p.After > 0 {
		q = q.Where("id < ?", p.After)
	}
	var rows []model.Vote
	if err := q.Order("id DESC").Limit(p.Limit + 1).Find(&rows).Error; err != nil {
		return service.Paged[View]{}, err
	}
	page := service.Cut(rows, p.Limit)
	vs, err := s.views(ctx, a, page.Items)
	if err != nil {
		return service.Paged[View]{}, err
	}
	return service.Paged[View]{Items: vs, More: page.More}, nil
}
