package vote

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service"
	"redprop/service/message"
	"redprop/service/servicetest"
	"redprop/service/wechat"
)

// env is the vote service over the shared harness's demo city, the
// sandbox messages service and the harness's fake clock.
type env struct {
	*servicetest.City
	msgs *recorder
	svc  *Service
	seq  int
}

// recorder passes events to the real messages service and remembers the
// size of every Publish call; failAt makes the n-th call fail.
type recorder struct {
	inner   *message.Service
	mu      sync.Mutex
	batches []int
	failAt  int
}

func (r *recorder) Publish(ctx context.Context, tx *gorm.DB, ev message.Event) error {
	r.mu.Lock()
	r.batches = append(r.batches, len(ev.UserIDs))
	n := len(r.batches)
	r.mu.Unlock()
	if n == r.failAt {
		return errors.New("publish failed on purpose")
	}
	return r.inner.Publish(ctx, tx, ev)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c := servicetest.New(t)
	cfg := message.DefaultConfig()
	cfg.Sandbox = true
	inner, err := message.New(c.DB, c.Clock, wechat.NewSandbox(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{inner: inner}
	return &env{City: c, msgs: rec, svc: New(c.DB, c.Clock, rec, Options{})}
}

// estate is a new compound of community 0 without a committee: one
// building, one household per area (m² × 100), each with a new owner.
type estate struct {
	compound   model.Compound
	households []model.Household
	owners     []int64
}

func (e *env) estate(areas ...int64) estate {
	e.T.Helper()
	e.seq++
	anc := e.Communities[0].Ancestry
	c := model.Compound{Name: fmt.Sprintf("测试小区%d", e.seq), Ancestry: anc}
	servicetest.Must(e.T, e.DB.Create(&c).Error)
	c.CompoundID = c.ID
	servicetest.Must(e.T, e.DB.Model(&c).Update("compound_id", c.ID).Error)
	banc := c.Ancestry
	banc.GridID = e.Grids[0].ID
	b := model.Building{Name: "1号楼", Ancestry: banc}
	servicetest.Must(e.T, e.DB.Create(&b).Error)
	b.BuildingID = b.ID
	servicetest.Must(e.T, e.DB.Model(&b).Update("building_id", b.ID).Error)
	es := estate{compound: c}
	hs := make([]model.Household, len(areas))
	us := make([]model.User, len(areas))
	for i, a := range areas {
		hs[i] = model.Household{Unit: "1", Room: fmt.Sprint(1000 + i), AreaCentiM2: a, Ancestry: b.Ancestry}
		open := fmt.Sprintf("owner_%d_%d", e.seq, i)
		us[i] = model.User{OpenID: &open, DisplayName: fmt.Sprintf("业主%d", i)}
	}
	servicetest.Must(e.T, e.DB.CreateInBatches(&hs, 500).Error)
	servicetest.Must(e.T, e.DB.CreateInBatches(&us, 500).Error)
	rs := make([]model.Residency, len(areas))
	for i := range areas {
		rs[i] = model.Residency{UserID: us[i].ID, HouseholdID: hs[i].ID, Relation: model.RelationOwner, Ancestry: hs[i].Ancestry}
		es.owners = append(es.owners, us[i].ID)
	}
	servicetest.Must(e.T, e.DB.CreateInBatches(&rs, 500).Error)
	es.households = hs
	return es
}

// live adds userID to a household with a relation.
func (e *env) live(userID int64, h model.Household, relation string) {
	e.T.Helper()
	servicetest.Must(e.T, e.DB.Create(&model.Residency{UserID: userID, HouseholdID: h.ID, Relation: relation, Ancestry: h.Ancestry}).Error)
}

// create makes a vote that opens in an hour and closes a week later.
func (e *env) create(by *service.Actor, compoundID int64, mod ...func(*CreateInput)) View {
	e.T.Helper()
	now := e.Clock.Now()
	in := CreateInput{CompoundID: compoundID, Question: "是否同意更换小区门禁系统", OpensAt: now.Add(time.Hour),
		ClosesAt: now.Add(time.Hour + 7*24*time.Hour)}
	for _, m := range mod {
		m(&in)
	}
	v, created, err := e.svc.Create(e.Ctx, by, in)
	if err != nil || !created {
		e.T.Fatalf("create vote: %v (created %v)", err, created)
	}
	return v
}

// tickAt moves the clock to t and runs the scheduler.
func (e *env) tickAt(t time.Time) TickStats {
	e.T.Helper()
	e.Clock.Set(t)
	st, err := e.svc.Tick(e.Ctx)
	if err != nil {
		e.T.Fatalf("tick: %v", err)
	}
	return st
}

func (e *env) get(a *service.Actor, id int64) View {
	e.T.Helper()
	v, err := e.svc.Get(e.Ctx, a, id)
	if err != nil {
		e.T.Fatalf("get vote %d: %v", id, err)
	}
	return v
}

// Whole votes through the database at the edges of art. 278: the roll,
// the weights, the count at closing.
func TestVoteThresholdsThroughTheService(t *testing.T) {
	cases := []struct {
		name    string
		areas   []int64
		casts   []int // the choice each household casts, -1: none
		matter  string
		choices []string
		outcome string
		winner  int
		strict  bool // the creator asked 3/4
	}{
		{"exactly 2/3 takes part", []int64{10000, 10000, 10000}, []int{0, 0, -1}, "", nil, model.OutcomePassed, 0, false},
		{"one centi-m² short of 2/3", []int64{10000, 10000, 10001}, []int{0, 0, -1}, "", nil, model.OutcomeNoQuorum, -1, false},
		{"special: exactly 3/4 agree", []int64{10000, 10000, 10000, 10000}, []int{0, 0, 0, 1}, model.MatterRebuild, nil, model.OutcomePassed, 0, false},
		{"special: one centi-m² under 3/4", []int64{9999, 10000, 10000, 10000}, []int{0, 0, 0, 1}, model.MatterFundRaise, nil, model.OutcomeRejected, -1, false},
		{"ordinary: exactly half is not enough", []int64{10000, 10000, 10000, 10000}, []int{0, 0, 1, 1}, model.MatterChangeFirm, nil, model.OutcomeRejected, -1, false},
		{"ordinary: a tie between two choices", []int64{10000, 10000, 10000, 10000}, []int{0, 1, 0, 1}, "", []string{"甲公司", "乙公司"}, model.OutcomeRejected, -1, false},
		{"choices: the second wins", []int64{10000, 10000, 10000, 10000}, []int{1, 1, 0, 1}, "", []string{"甲公司", "乙公司"}, model.OutcomePassed, 1, false},
		{"fund use: 2/3 carries it by law", []int64{10000, 10000, 10000}, []int{0, 0, 1}, model.MatterFundUse, nil, model.OutcomePassed, 0, false},
		{"fund use asked at 3/4: 2/3 is not enough", []int64{10000, 10000, 10000}, []int{0, 0, 1}, model.MatterFundUse, nil, model.OutcomeRejected, -1, true},
		{"change of firm asked at 3/4: exactly 3/4", []int64{10000, 10000, 10000, 10000}, []int{0, 0, 0, 1}, model.MatterChangeFirm, nil, model.OutcomePassed, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			es := e.estate(tc.areas...)
			staff := e.Actor("community") // no committee: the community runs it
			v := e.create(staff, es.compound.ID, func(in *CreateInput) { in.Matter, in.Choices, in.Special = tc.matter, tc.choices, tc.strict })
			if st := e.tickAt(v.Vote.OpensAt); st.Opened != 1 || st.Told != len(tc.areas) {
				t.Fatalf("opening tick %+v", st)
			}
			for i, c := range tc.casts {
				if c < 0 {
					continue
				}
				if _, err := e.svc.Cast(e.Ctx, e.User(es.owners[i]), v.Vote.ID, CastInput{HouseholdID: es.households[i].ID, Choice: c}); err != nil {
					t.Fatalf("cast %d: %v", i, err)
				}
			}
			if st := e.tickAt(v.Vote.ClosesAt); st.Closed != 1 {
				t.Fatalf("closing tick %+v", st)
			}
			got := e.get(staff, v.Vote.ID)
			w := -1
			if got.Vote.Winner != nil {
				w = *got.Vote.Winner
			}
			if got.Vote.State != model.VoteClosed || got.Vote.Outcome != tc.outcome || w != tc.winner {
				t.Fatalf("result %s %s winner %d; want %s winner %d", got.Vote.State, got.Vote.Outcome, w, tc.outcome, tc.winner)
			}
			var total int64
			for _, a := range tc.areas {
				total += a
			}
			p := got.Participation
			if p == nil || p.Total.AreaCentiM2 != total || p.Total.Heads != int64(len(tc.areas)) {
				t.Fatalf("participation %+v, total area %d", p, total)
			}
		})
	}
}

func TestVoteLifecycleWithDemoPeople(t *testing.T) {
	e := newEnv(t)
	comp := e.Compounds[0] // has a committee
	committee, resident := e.Actor("committee"), e.Actor("resident")
	// The newcomer becomes a second owner of household 1, and a tenant of 2.
	newcomer := e.Users["newcomer"]
	e.live(newcomer, e.Households[1], model.RelationOwner)
	e.live(newcomer, e.Households[2], model.RelationTenant)
	h0 := e.Households[0]
	var v View

	e.Step(t, "a draft is the committee's alone", func(t *testing.T) {
		v = e.create(committee, comp.ID, func(in *CreateInput) { in.OpenBallot = true })
		if v.Vote.State != model.VoteDraft || v.Vote.OrganiserRole != model.RoleCommittee || len(v.Vote.Choices) != 3 || !v.Vote.YesNo {
			t.Fatalf("draft %+v", v.Vote)
		}
		// Residents do not see a draft; they cannot vote on it either.
		_, err := e.svc.Get(e.Ctx, resident, v.Vote.ID)
		servicetest.WantCode(t, err, "vote_not_found")
		_, err = e.svc.Cast(e.Ctx, resident, v.Vote.ID, CastInput{HouseholdID: h0.ID})
		servicetest.WantCode(t, err, "vote_not_open")
		// An owner of another compound learns nothing of it, not even its state.
		_, err = e.svc.Cast(e.Ctx, e.Actor("resident2"), v.Vote.ID, CastInput{HouseholdID: e.Households[16].ID})
		servicetest.WantCode(t, err, "vote_not_found")
	})

	e.Step(t, "it opens at its time and tells the owners", func(t *testing.T) {
		// Before its time nothing happens; at its time it opens and tells the
		// compound's two owners (not the tenant relation, not other compounds).
		if st := e.tickAt(v.Vote.OpensAt.Add(-time.Minute)); st != (TickStats{}) {
			t.Fatalf("early tick %+v", st)
		}
		if st := e.tickAt(v.Vote.OpensAt); st.Opened != 1 || st.Told != 2 {
			t.Fatalf("opening tick %+v", st)
		}
		var told []int64
		servicetest.Must(t, e.DB.Model(&model.Message{}).Where("event = ?", "vote.opened").Order("user_id").Pluck("user_id", &told).Error)
		if fmt.Sprint(told) != fmt.Sprint([]int64{e.Users["resident"], newcomer}) {
			t.Fatalf("told %v", told)
		}
		var total int64
		for _, h := range e.Households[:8] {
			total += h.AreaCentiM2
		}
		got := e.get(committee, v.Vote.ID)
		if got.Vote.TotalAreaCentiM2 != total || got.Vote.TotalHouseholds != 8 || got.Vote.TotalHeads != 8 {
			t.Fatalf("totals %d/%d/%d, want area %d, 8 households, 8 heads", got.Vote.TotalAreaCentiM2, got.Vote.TotalHouseholds, got.Vote.TotalHeads, total)
		}
	})

	e.Step(t, "an owner casts once, for their own household", func(t *testing.T) {
		mine, err := e.svc.Cast(e.Ctx, resident, v.Vote.ID, CastInput{HouseholdID: h0.ID, Choice: 0})
		if err != nil {
			t.Fatal(err)
		}
		if len(mine.Mine) != 1 || mine.Mine[0].Choice == nil || *mine.Mine[0].Choice != 0 || mine.Mine[0].AreaCentiM2 != h0.AreaCentiM2 {
			t.Fatalf("my households %+v", mine.Mine)
		}
		if mine.Participation != nil {
			t.Fatal("a resident sees the running participation")
		}
		_, err = e.svc.Cast(e.Ctx, resident, v.Vote.ID, CastInput{HouseholdID: h0.ID, Choice: 1})
		servicetest.WantCode(t, err, "already_voted")
		// A tenant is not an owner; an owner of another household cannot vote for this one.
		_, err = e.svc.Cast(e.Ctx, e.User(newcomer), v.Vote.ID, CastInput{HouseholdID: e.Households[2].ID})
		servicetest.WantCode(t, err, "not_owner")
		_, err = e.svc.Cast(e.Ctx, e.User(newcomer), v.Vote.ID, CastInput{HouseholdID: h0.ID})
		servicetest.WantCode(t, err, "not_owner")
		_, err = e.svc.Cast(e.Ctx, e.User(newcomer), v.Vote.ID, CastInput{HouseholdID: e.Households[1].ID, Choice: 3})
		servicetest.WantCode(t, err, "bad_choice")
		if _, err := e.svc.Cast(e.Ctx, e.User(newcomer), v.Vote.ID, CastInput{HouseholdID: e.Households[1].ID, Choice: 1}); err != nil {
			t.Fatal(err)
		}
	})

	e.Step(t, "the committee follows the participation, not the choices", func(t *testing.T) {
		got := e.get(committee, v.Vote.ID)
		p := got.Participation
		wantArea := h0.AreaCentiM2 + e.Households[1].AreaCentiM2
		if p == nil || p.Ballots != 2 || p.Voted.Heads != 2 || p.Voted.AreaCentiM2 != wantArea || p.Quorum {
			t.Fatalf("running participation %+v", p)
		}
		if got.Vote.Tally != nil || got.Vote.Outcome != "" {
			t.Fatal("choices shown while open")
		}
		_, err := e.svc.Ballots(e.Ctx, committee, v.Vote.ID, service.Page{Limit: 10})
		servicetest.WantCode(t, err, "vote_not_closed")
	})

	e.Step(t, "at the closing time ballots stop and the result freezes", func(t *testing.T) {
		// Ballots stop even before the scheduler runs.
		e.Clock.Set(v.Vote.ClosesAt)
		_, err := e.svc.Cast(e.Ctx, resident, v.Vote.ID, CastInput{HouseholdID: h0.ID})
		servicetest.WantCode(t, err, "vote_closed")
		if st := e.tickAt(v.Vote.ClosesAt); st.Closed != 1 {
			t.Fatalf("closing tick %+v", st)
		}
		got := e.get(resident, v.Vote.ID)
		if got.Vote.Outcome != model.OutcomeNoQuorum || got.Participation == nil || got.Participation.Ballots != 2 ||
			len(got.Vote.Tally) != 3 || got.Vote.Tally[0].Ballots != 1 || got.Vote.Tally[1].AreaCentiM2 != e.Households[1].AreaCentiM2 {
			t.Fatalf("result %+v / %+v", got.Vote, got.Participation)
		}
	})

	e.Step(t, "an open ballot shows who voted what, names to the committee only", func(t *testing.T) {
		bs, err := e.svc.Ballots(e.Ctx, committee, v.Vote.ID, service.Page{Limit: 10})
		if err != nil || len(bs.Items) != 2 || bs.Items[1].VoterName != "居民杨阿姨" || bs.Items[1].ChoiceLabel != "同意" ||
			bs.Items[1].HouseholdLabel != "1号楼1单元101" {
			t.Fatalf("ballots %+v %v", bs, err)
		}
		bs, err = e.svc.Ballots(e.Ctx, resident, v.Vote.ID, service.Page{Limit: 10})
		if err != nil || len(bs.Items) != 2 || bs.Items[0].VoterName != "" {
			t.Fatalf("ballots for a resident %+v %v", bs, err)
		}
	})

	e.Step(t, "a second tick changes nothing", func(t *testing.T) {
		if st := e.tickAt(v.Vote.ClosesAt.Add(time.Hour)); st != (TickStats{}) {
			t.Fatalf("idle tick %+v", st)
		}
	})
}

func TestVoteWhoMayRunIt(t *testing.T) {
	e := newEnv(t)
	c0, c1, c2 := e.Compounds[0], e.Compounds[1], e.Compounds[2]
	in := func(id int64) CreateInput {
		now := e.Clock.Now()
		return CreateInput{CompoundID: id, Question: "增设充电桩", OpensAt: now, ClosesAt: now.Add(48 * time.Hour)}
	}
	var v1 View

	e.Step(t, "the committee runs its compound's votes, the community those of a compound without one", func(t *testing.T) {
		// Compound 0 has a committee: community staff may not run its votes.
		_, _, err := e.svc.Create(e.Ctx, e.Actor("community"), in(c0.ID))
		servicetest.WantCode(t, err, "not_organiser")
		// Compound 1 has none: its community's staff do (支代业/物管会), not another committee.
		_, _, err = e.svc.Create(e.Ctx, e.Actor("committee"), in(c1.ID))
		servicetest.WantCode(t, err, "not_organiser")
		v1, _, err = e.svc.Create(e.Ctx, e.Actor("community"), in(c1.ID))
		if err != nil || v1.Vote.OrganiserRole != model.RoleCommunityStaff {
			t.Fatalf("community vote: %+v %v", v1.Vote, err)
		}
		// Community 2 staff cannot run compound 1's, but run compound 2's.
		_, _, err = e.svc.Create(e.Ctx, e.Actor("community2"), in(c1.ID))
		servicetest.WantCode(t, err, "not_organiser")
		if _, _, err := e.svc.Create(e.Ctx, e.Actor("community2"), in(c2.ID)); err != nil {
			t.Fatal(err)
		}
	})

	e.Step(t, "another community neither sees nor opens them; the street sees both, opens neither", func(t *testing.T) {
		_, err := e.svc.Get(e.Ctx, e.Actor("community2"), v1.Vote.ID)
		servicetest.WantCode(t, err, "out_of_scope")
		_, err = e.svc.Open(e.Ctx, e.Actor("community2"), v1.Vote.ID)
		servicetest.WantCode(t, err, "out_of_scope")
		_, err = e.svc.Open(e.Ctx, e.Actor("street"), v1.Vote.ID)
		servicetest.WantCode(t, err, "not_organiser")
	})

	e.Step(t, "lists hold what the actor oversees, and residents only what opened", func(t *testing.T) {
		list, err := e.svc.List(e.Ctx, e.Actor("street"), Filter{}, service.Page{Limit: 10})
		if err != nil || len(list.Items) != 2 {
			t.Fatalf("street list %d %v", len(list.Items), err)
		}
		list, err = e.svc.List(e.Ctx, e.Actor("community2"), Filter{}, service.Page{Limit: 10})
		if err != nil || len(list.Items) != 1 || list.Items[0].Vote.CompoundID != c2.ID {
			t.Fatalf("community2 list %+v %v", list.Items, err)
		}
		_, err = e.svc.List(e.Ctx, e.Actor("community2"), Filter{CompoundID: c1.ID}, service.Page{Limit: 10})
		servicetest.WantCode(t, err, "out_of_scope")
		list, err = e.svc.List(e.Ctx, e.Actor("resident2"), Filter{}, service.Page{Limit: 10})
		if err != nil || len(list.Items) != 0 {
			t.Fatalf("resident2 sees drafts: %d %v", len(list.Items), err)
		}
	})

	e.Step(t, "bad input", func(t *testing.T) {
		for _, bad := range []func(*CreateInput){
			func(in *CreateInput) { in.Question = " " },
			func(in *CreateInput) { in.Matter = "special" },
			func(in *CreateInput) { in.Choices = []string{"只有一项"} },
			func(in *CreateInput) { in.Choices = []string{"甲", "甲"} },
			func(in *CreateInput) { in.ClosesAt = in.OpensAt.Add(30 * time.Minute) },
			func(in *CreateInput) { in.ClosesAt = time.Time{} },
			func(in *CreateInput) { in.IdemKey = "带空格 的键" },
		} {
			x := in(c1.ID)
			bad(&x)
			if _, _, err := e.svc.Create(e.Ctx, e.Actor("community"), x); service.KindOf(err) != service.KindInvalid {
				t.Errorf("%+v: %v", x, err)
			}
		}
	})
}

func TestVoteIdempotentCreateAndCancel(t *testing.T) {
	e := newEnv(t)
	committee := e.Actor("committee")
	var v View

	e.Step(t, "a repeat with the same key returns the first vote", func(t *testing.T) {
		v = e.create(committee, e.Compounds[0].ID, func(in *CreateInput) { in.IdemKey = "vote-key-1" })
		now := e.Clock.Now()
		again, created, err := e.svc.Create(e.Ctx, committee, CreateInput{CompoundID: e.Compounds[0].ID, Question: "是否同意更换小区门禁系统",
			OpensAt: now.Add(time.Hour), ClosesAt: now.Add(49 * time.Hour), IdemKey: "vote-key-1"})
		if err != nil || created || again.Vote.ID != v.Vote.ID {
			t.Fatalf("repeat: %d created %v err %v", again.Vote.ID, created, err)
		}
	})

	e.Step(t, "a cancelled draft never opens", func(t *testing.T) {
		c, err := e.svc.Cancel(e.Ctx, committee, v.Vote.ID)
		if err != nil || c.Vote.State != model.VoteCancelled || c.Vote.CancelledBy != committee.UserID || c.Vote.Version != v.Vote.Version+1 {
			t.Fatalf("cancel %+v %v", c.Vote, err)
		}
		_, err = e.svc.Open(e.Ctx, committee, v.Vote.ID)
		servicetest.WantCode(t, err, "vote_not_draft")
		_, err = e.svc.Cancel(e.Ctx, committee, v.Vote.ID)
		servicetest.WantCode(t, err, "vote_not_draft")
		if st := e.tickAt(v.Vote.OpensAt); st != (TickStats{}) {
			t.Fatalf("tick %+v", st)
		}
	})

	e.Step(t, "a draft whose closing time passed unopened is called off quietly", func(t *testing.T) {
		late := e.create(committee, e.Compounds[0].ID)
		if st := e.tickAt(late.Vote.ClosesAt.Add(time.Minute)); st.Expired != 1 || st.Opened != 0 || st.Told != 0 {
			t.Fatalf("tick %+v", st)
		}
		if got := e.get(committee, late.Vote.ID); got.Vote.State != model.VoteCancelled {
			t.Fatalf("late draft %s", got.Vote.State)
		}
	})
}

// An owner of several households casts one ballot for each, weighed by
// each household's area, but counts once by head; a household without a
// registered owner still counts in the totals.
func TestVoteOwnerOfSeveralHouseholds(t *testing.T) {
	e := newEnv(t)
	es := e.estate(10000, 20000, 30000, 40000, 50000)
	// Household 3 becomes the second household of owner 0; household 4 has no owner.
	servicetest.Must(t, e.DB.Where("household_id IN ?", []int64{es.households[3].ID, es.households[4].ID}).Delete(&model.Residency{}).Error)
	e.live(es.owners[0], es.households[3], model.RelationOwner)
	staff := e.Actor("community")
	v := e.create(staff, es.compound.ID)
	if st := e.tickAt(v.Vote.OpensAt); st.Told != 3 {
		t.Fatalf("told %d owners, want 3", st.Told)
	}
	got := e.get(staff, v.Vote.ID)
	if got.Vote.TotalHeads != 4 || got.Vote.TotalHouseholds != 5 || got.Vote.TotalAreaCentiM2 != 150000 {
		t.Fatalf("totals heads %d households %d area %d", got.Vote.TotalHeads, got.Vote.TotalHouseholds, got.Vote.TotalAreaCentiM2)
	}
	owner0 := e.User(es.owners[0])
	for _, h := range []model.Household{es.households[0], es.households[3]} {
		if _, err := e.svc.Cast(e.Ctx, owner0, v.Vote.ID, CastInput{HouseholdID: h.ID, Choice: 0}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.svc.Cast(e.Ctx, e.User(es.owners[2]), v.Vote.ID, CastInput{HouseholdID: es.households[2].ID, Choice: 1}); err != nil {
		t.Fatal(err)
	}
	got = e.get(staff, v.Vote.ID)
	if p := got.Participation; p.Ballots != 3 || p.Voted.Heads != 2 || p.Voted.AreaCentiM2 != 80000 {
		t.Fatalf("participation %+v", p)
	}
	// 80000 of 150000 area (< 2/3) and 2 of 4 heads: no quorum.
	e.tickAt(v.Vote.ClosesAt)
	got = e.get(staff, v.Vote.ID)
	if got.Vote.Outcome != model.OutcomeNoQuorum || got.Vote.Tally[0].Heads != 1 || got.Vote.Tally[0].AreaCentiM2 != 50000 ||
		got.Vote.Tally[0].Ballots != 2 {
		t.Fatalf("result %s %+v", got.Vote.Outcome, got.Vote.Tally)
	}
}

// A compound of 1,201 owners is told in batches of at most 500, each
// owner exactly once, also when a batch fails and the scheduler resumes.
func TestVoteNoticeStreamsOwnersInBatches(t *testing.T) {
	e := newEnv(t)
	areas := make([]int64, 1201)
	for i := range areas {
		areas[i] = 8000 + int64(i%7)*1000
	}
	es := e.estate(areas...)
	// Owner 0 also owns household 1: told once.
	e.live(es.owners[0], es.households[1], model.RelationOwner)
	e.msgs.failAt = 2
	v := e.create(e.Actor("community"), es.compound.ID)
	st, err := e.svc.Tick(e.Ctx)
	if err != nil || st.Opened != 0 {
		t.Fatalf("early tick %+v %v", st, err)
	}
	e.Clock.Set(v.Vote.OpensAt)
	st, err = e.svc.Tick(e.Ctx)
	if err == nil || st.Opened != 1 || st.Told != 500 {
		t.Fatalf("first tick: %+v, err %v (want the second batch to fail)", st, err)
	}
	st, err = e.svc.Tick(e.Ctx)
	if err != nil || st.Told != 701 {
		t.Fatalf("resuming tick: %+v, %v", st, err)
	}
	for _, n := range e.msgs.batches {
		if n > 500 {
			t.Fatalf("a Publish call of %d users", n)
		}
	}
	var dup int64
	servicetest.Must(t, e.DB.Raw(`SELECT COUNT(*) FROM (SELECT user_id FROM messages WHERE event = 'vote.opened'
		GROUP BY user_id HAVING COUNT(*) > 1) d`).Scan(&dup).Error)
	var msgs, outbox int64
	servicetest.Must(t, e.DB.Model(&model.Message{}).Where("event = ?", "vote.opened").Count(&msgs).Error)
	servicetest.Must(t, e.DB.Model(&model.Outbox{}).Where("event = ?", "vote.opened").Count(&outbox).Error)
	if dup != 0 || msgs != 1201 || outbox != 1201 {
		t.Fatalf("messages %d, outbox %d, users told twice %d", msgs, outbox, dup)
	}
	if st := e.tickAt(v.Vote.OpensAt.Add(time.Minute)); st.Told != 0 {
		t.Fatalf("told again: %+v", st)
	}
}

// Two owners of one household press at the same moment: one ballot
// counts, the other gets 409. MariaDB only: SQLite has one connection.
func TestVoteConcurrentBallotsOfOneHousehold(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("concurrency needs MariaDB: the SQLite test database has a single connection")
	}
	e := newEnv(t)
	es := e.estate(10000, 10000, 10000, 10000, 10000)
	spouses := make([]int64, len(es.households))
	for i, h := range es.households {
		open := fmt.Sprintf("spouse_%d", i)
		u := model.User{OpenID: &open, DisplayName: "配偶"}
		servicetest.Must(t, e.DB.Create(&u).Error)
		e.live(u.ID, h, model.RelationOwner)
		spouses[i] = u.ID
	}
	v := e.create(e.Actor("community"), es.compound.ID)
	e.tickAt(v.Vote.OpensAt)
	for round, h := range es.households {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, uid := range []int64{es.owners[round], spouses[round]} {
			a := e.User(uid)
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = e.svc.Cast(e.Ctx, a, v.Vote.ID, CastInput{HouseholdID: h.ID, Choice: i})
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case service.KindOf(err) != service.KindConflict:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d ballots won (%v)", round, won, errs)
		}
	}
	var n int64
	servicetest.Must(t, e.DB.Model(&model.Ballot{}).Where("vote_id = ?", v.Vote.ID).Count(&n).Error)
	if n != int64(len(es.households)) {
		t.Fatalf("%d ballots stored", n)
	}
	e.tickAt(v.Vote.ClosesAt)
	if got := e.get(e.Actor("community"), v.Vote.ID); got.Vote.Ballots != n || got.Vote.VotedHeads != n {
		t.Fatalf("count %d ballots %d heads", got.Vote.Ballots, got.Vote.VotedHeads)
	}
}
