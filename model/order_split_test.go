package model_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"redprop/model"
	"redprop/model/dbtest"
)

// TestListOrdersSplitMatchesTheOrQuery checks that the split queue query
// answers exactly what the OR of its scopes does: the same rows in the
// same order, page after page by the cursor, for scopes that overlap
// (the same order in several parts), levels, state sets and filters.
func TestListOrdersSplitMatchesTheOrQuery(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	rng := rand.New(rand.NewPCG(1, 2))
	states := []string{model.StateSubmitted, model.StateVerified, model.StateDispatched, model.StateAccepted,
		model.StateInProgress, model.StateCompleted, model.StateClosed, model.StateCancelled}
	levels := []string{model.OrderLevelGrid, model.OrderLevelCommunity, model.OrderLevelStreet, model.OrderLevelCity}
	var rows []model.Order
	for i := range 400 {
		grid := int64(1 + rng.IntN(4))
		rows = append(rows, model.Order{Number: fmt.Sprintf("S%05d", i), CategoryID: 1, CategoryCode: "repair",
			State: states[rng.IntN(len(states))], Level: levels[rng.IntN(len(levels))], Channel: model.ChannelSelf,
			AuthorID: int64(1 + rng.IntN(6)), ResidentID: int64(1 + rng.IntN(6)), Description: "d",
			Ancestry:    model.Ancestry{CityID: 1, StreetID: 1 + grid%2, CommunityID: 10 + grid%3, CompoundID: 20 + grid, GridID: grid},
			HandlerKind: model.HandlerFirm, HandlerID: int64(1 + rng.IntN(3)), AssigneeID: int64(1 + rng.IntN(3)),
			Overdue: rng.IntN(5) == 0, Version: 1})
	}
	if err := db.CreateInBatches(rows, 100).Error; err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	cases := []struct {
		name string
		q    model.OrderQuery
	}{
		{"a person as author or resident", model.OrderQuery{Scopes: []model.OrderScope{{Person: 3}}}},
		{"grids in states at any level", model.OrderQuery{Scopes: []model.OrderScope{
			{TreeKind: model.ScopeGrid, TreeID: 1}, {TreeKind: model.ScopeGrid, TreeID: 2}},
			States: [][]string{{model.StateSubmitted, model.StateClosed}}}},
		{"a person of their own reports", model.OrderQuery{Scopes: []model.OrderScope{{Person: 3, OwnReportsOnly: true}}}},
		{"a person in a state", model.OrderQuery{Scopes: []model.OrderScope{{Person: 3}}, States: [][]string{{model.StateClosed, model.StateSubmitted}}}},
		{"overlapping grids and a community at levels", model.OrderQuery{Scopes: []model.OrderScope{
			{TreeKind: model.ScopeGrid, TreeID: 1}, {TreeKind: model.ScopeGrid, TreeID: 2},
			{TreeKind: model.ScopeCommunity, TreeID: 11, Level: model.OrderLevelCommunity}}}},
		{"a dispatcher's states at three levels", model.OrderQuery{Scopes: []model.OrderScope{
			{TreeKind: model.ScopeCommunity, TreeID: 11, Level: model.OrderLevelCommunity},
			{TreeKind: model.ScopeStreet, TreeID: 2, Level: model.OrderLevelStreet},
			{All: true, Level: model.OrderLevelCity}},
			States: [][]string{{model.StateSubmitted, model.StateVerified}}}},
		{"two state sets intersected", model.OrderQuery{Scopes: []model.OrderScope{{TreeKind: model.ScopeGrid, TreeID: 3}},
			States: [][]string{{model.StateSubmitted, model.StateVerified}, {model.StateVerified, model.StateClosed}}}},
		{"state sets with nothing in common", model.OrderQuery{Scopes: []model.OrderScope{{All: true}},
			States: [][]string{{model.StateSubmitted}, {model.StateClosed}}}},
		{"everything", model.OrderQuery{Scopes: []model.OrderScope{{All: true}}}},
		{"everything, late, in a compound", model.OrderQuery{Scopes: []model.OrderScope{{All: true}}, Overdue: &yes, CompoundID: 22}},
		{"firms and a worker", model.OrderQuery{Scopes: []model.OrderScope{
			{HandlerKind: model.HandlerFirm, HandlerIDs: []int64{1, 2}},
			{HandlerKind: model.HandlerFirm, HandlerIDs: []int64{2, 3}, Assignee: 2}}}},
		{"firms in their states, not late", model.OrderQuery{Scopes: []model.OrderScope{
			{HandlerKind: model.HandlerFirm, HandlerIDs: []int64{1, 3}}, {Person: 1}},
			States: [][]string{{model.StateDispatched, model.StateAccepted, model.StateInProgress}}, Overdue: &no}},
		{"a worker in states", model.OrderQuery{Scopes: []model.OrderScope{{HandlerKind: model.HandlerFirm, HandlerIDs: []int64{1, 2, 3}, Assignee: 1}},
			States: [][]string{{model.StateAccepted, model.StateInProgress}}}},
	}
	ids := func(os []model.Order) []int64 {
		out := []int64{}
		for _, o := range os {
			out = append(out, o.ID)
		}
		return out
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			q.Limit = 7
			pages := 0
			for {
				got, err := model.ListOrders(ctx, db, q)
				if err != nil {
					t.Fatal(err)
				}
				want, err := model.ListOrdersOr(ctx, db, q)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(ids(got), ids(want)) {
					t.Fatalf("page %d after %d: split %v, OR %v", pages, q.Before, ids(got), ids(want))
				}
				if len(got) > 0 && got[0].Number == "" {
					t.Fatal("rows came back without their columns")
				}
				pages++
				if len(got) < q.Limit {
					break
				}
				q.Before = got[len(got)-1].ID
			}
			if tc.name != "state sets with nothing in common" && pages < 2 {
				t.Fatalf("only %d page: the seed does not page this query", pages)
			}
		})
	}
}
