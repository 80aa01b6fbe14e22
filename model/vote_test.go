package model_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"redprop/model"
	"redprop/model/dbtest"
)

func TestVoteStore(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	now := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	anc := model.Ancestry{CityID: 1, DistrictID: 2, StreetID: 3, CommunityID: 4, CompoundID: 5}
	newVote := func(compound int64, state string) model.Vote {
		t.Helper()
		a := anc
		a.CompoundID = compound
		v := model.Vote{Question: "q", Matter: model.MatterOrdinary, Choices: []string{"同意", "反对"}, State: state,
			OpensAt: now, ClosesAt: now.Add(time.Hour), OrganiserRole: model.RoleCommittee, CreatedBy: 1, Version: 1, Ancestry: a}
		if err := model.Create(ctx, db, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}

	t.Run("compare-and-set writes only the named columns, once", func(t *testing.T) {
		v := newVote(5, model.VoteOpen)
		next := v
		winner := 1
		next.State, next.Outcome, next.Winner, next.Question = model.VoteClosed, model.OutcomePassed, &winner, "not written"
		next.Tally = []model.ChoiceTally{{Ballots: 1, AreaCentiM2: 100, Heads: 1}, {Ballots: 2, AreaCentiM2: 300, Heads: 2}}
		n, err := model.UpdateVote(ctx, db, &next, v.Version, now, "state", "outcome", "winner", "tally")
		if err != nil || n != 1 || next.Version != v.Version+1 {
			t.Fatalf("first write: %d rows, version %d, %v", n, next.Version, err)
		}
		// A second writer that read the same version loses.
		stale := v
		stale.State = model.VoteCancelled
		if n, err := model.UpdateVote(ctx, db, &stale, v.Version, now, "state"); err != nil || n != 0 {
			t.Fatalf("stale write: %d rows, %v", n, err)
		}
		got, err := model.ByID[model.Vote](ctx, db, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != model.VoteClosed || got.Question != "q" || got.Version != 2 || got.Winner == nil || *got.Winner != 1 ||
			fmt.Sprint(got.Tally) != fmt.Sprint(next.Tally) || !got.UpdatedAt.Equal(now) {
			t.Fatalf("stored %+v", got)
		}
	})

	t.Run("a missing vote is ErrNotFound", func(t *testing.T) {
		if _, err := model.ByID[model.Vote](ctx, db, 999999); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("take: %v", err)
		}
		if _, err := model.RollEntry(ctx, db, 999999, 1); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("roll entry: %v", err)
		}
	})

	t.Run("a household votes once", func(t *testing.T) {
		v := newVote(5, model.VoteOpen)
		b := model.Ballot{VoteID: v.ID, HouseholdID: 1, UserID: 1, AreaCentiM2: 100, HeadKey: 1, Heads: 1, CreatedAt: now}
		if err := model.Create(ctx, db, &b); err != nil {
			t.Fatal(err)
		}
		again := b
		again.ID, again.UserID, again.Choice = 0, 2, 1
		if err := model.Create(ctx, db, &again); !errors.Is(err, model.ErrDuplicate) {
			t.Fatalf("second ballot: %v", err)
		}
		tally, err := model.TallyBallots(ctx, db, v.ID, 2)
		if err != nil || len(tally) != 2 || tally[0].Ballots != 1 || tally[0].AreaCentiM2 != 100 || tally[1].Ballots != 0 {
			t.Fatalf("tally %+v %v", tally, err)
		}
	})

	t.Run("lists take homes in their states and scopes whole", func(t *testing.T) {
		db := dbtest.Open(t)
		ctx := context.Background()
		mk := func(compound int64, state string) int64 {
			a := anc
			a.CompoundID = compound
			v := model.Vote{Question: "q", Matter: model.MatterOrdinary, Choices: []string{"a", "b"}, State: state,
				OpensAt: now, ClosesAt: now.Add(time.Hour), OrganiserRole: model.RoleCommittee, CreatedBy: 1, Version: 1, Ancestry: a}
			if err := model.Create(ctx, db, &v); err != nil {
				t.Fatal(err)
			}
			return v.ID
		}
		homeDraft, homeOpen := mk(5, model.VoteDraft), mk(5, model.VoteOpen)
		overseen := mk(6, model.VoteDraft)
		mk(7, model.VoteOpen)
		ids := func(f model.VoteFilter) string {
			t.Helper()
			f.Limit = 10
			vs, err := model.ListVotes(ctx, db, f)
			if err != nil {
				t.Fatal(err)
			}
			var out []int64
			for _, v := range vs {
				out = append(out, v.ID)
			}
			return fmt.Sprint(out)
		}
		f := model.VoteFilter{Homes: []int64{5}, HomeStates: []string{model.VoteOpen},
			Under: []model.Grant{{ScopeKind: model.ScopeCompound, ScopeID: 6}, {ScopeKind: model.ScopeFirm, ScopeID: 7}}}
		if got, want := ids(f), fmt.Sprint([]int64{overseen, homeOpen}); got != want {
			t.Fatalf("listed %s, want %s (not the home draft %d, not compound 7)", got, want, homeDraft)
		}
		if got := ids(model.VoteFilter{}); got != "[]" {
			t.Fatalf("nothing asked, listed %s", got)
		}
		if got := ids(model.VoteFilter{Everywhere: true, State: model.VoteDraft}); got != fmt.Sprint([]int64{overseen, homeDraft}) {
			t.Fatalf("every draft: %s", got)
		}
	})
}
