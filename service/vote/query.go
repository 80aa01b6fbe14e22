package vote

import (
	"context"
	"slices"
	"time"

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
	r, err := model.BallotSum(ctx, s.db, v.ID)
	if err != nil {
		return Participation{}, err
	}
	p := Participation{
		Ballots: r.Ballots, Voted: Count{AreaCentiM2: r.AreaCentiM2, Heads: r.Heads},
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
	ids, err := model.OwnedHouseholds(ctx, s.db, a.UserID, v.CompoundID)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	homes, err := model.HouseholdPlaces(ctx, s.db, ids)
	if err != nil {
		return nil, err
	}
	var rolls []model.VoteRoll
	var ballots []model.Ballot
	if v.State != model.VoteDraft && v.State != model.VoteCancelled {
		if rolls, err = model.RollEntries(ctx, s.db, v.ID, ids); err != nil {
			return nil, err
		}
		if ballots, err = model.BallotsOf(ctx, s.db, v.ID, ids); err != nil {
			return nil, err
		}
	}
	out := make([]MyHousehold, 0, len(ids))
	for _, id := range ids {
		m := MyHousehold{HouseholdID: id, Label: label(homes[id]), AreaCentiM2: homes[id].AreaCentiM2}
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

// label names a household as 1号楼1单元101.
func label(h model.HouseholdPlace) string {
	l := h.BuildingName
	if h.Unit != "" {
		l += h.Unit + "单元"
	}
	return l + h.Room
}

// views adds compound names and the actor's standing to votes.
func (s *Service) views(ctx context.Context, a *service.Actor, vs []model.Vote) ([]View, error) {
	var cids []int64
	for _, v := range vs {
		cids = append(cids, v.CompoundID)
	}
	names, err := model.CompoundNames(ctx, s.db, cids)
	if err != nil {
		return nil, err
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
	homes, err := model.HomeCompounds(ctx, s.db, a.UserID)
	if err != nil {
		return service.Paged[View]{}, err
	}
	q := model.VoteFilter{Homes: homes, HomeStates: []string{model.VoteOpen, model.VoteClosed}, State: f.State,
		Before: p.After, Limit: p.Limit + 1}
	for _, g := range a.Scopes(managerRoles...) {
		if g.ScopeKind == model.ScopePlatform {
			q.Everywhere = true
			break
		}
		// A vote is a compound's: a grant over a grid or a building of it
		// does not oversee it.
		if _, ok := model.AncestryColumn(g.ScopeKind); ok && g.ScopeKind != model.ScopeGrid && g.ScopeKind != model.ScopeBuilding {
			q.Under = append(q.Under, g)
		}
	}
	if !q.Everywhere && len(q.Homes) == 0 && len(q.Under) == 0 {
		if f.CompoundID != 0 {
			return service.Paged[View]{}, service.ErrOutOfScope
		}
		return service.Paged[View]{Items: []View{}}, nil
	}
	if f.CompoundID != 0 {
		c, err := s.compound(ctx, f.CompoundID)
		if err != nil {
			return service.Paged[View]{}, err
		}
		if !q.Everywhere && !slices.Contains(homes, c.ID) && !a.Can(service.TargetOf(model.ScopeCompound, c.ID, c.Ancestry), managerRoles...) {
			return service.Paged[View]{}, service.ErrOutOfScope
		}
		q.CompoundID = f.CompoundID
	}
	rows, err := model.ListVotes(ctx, s.db, q)
	if err != nil {
		return service.Paged[View]{}, err
	}
	page := service.Cut(rows, p.Limit)
	vs, err := s.views(ctx, a, page.Items)
	if err != nil {
		return service.Paged[View]{}, err
	}
	return service.Paged[View]{Items: vs, More: page.More}, nil
}
