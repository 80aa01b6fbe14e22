package action_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"redprop/model"
	"redprop/service"
	"redprop/service/action"
	"redprop/service/servicetest"
)

// TestLedgerReadsOnePagePerPart seeds years of action items and checks,
// with MariaDB's ANALYZE of the statement exactly as List sends it, that
// every part of a reader's reach is read off an index in id order: no
// filesort, and about one page of rows per part however many items the
// reach holds. The OR over single-column indexes read and sorted them all.
func TestLedgerReadsOnePagePerPart(t *testing.T) {
	const total = 20000
	c := servicetest.New(t)
	if !model.IsMySQL(c.DB) {
		t.Skip("the plans checked are MariaDB's (set REDPROP_TEST_MYSQL_DSN)")
	}
	var committees []model.Committee
	for i := range 8 {
		committees = append(committees, model.Committee{Base: model.Base{ID: int64(401 + i)}, Kind: "owners", Name: fmt.Sprintf("业委会%d", i),
			Ancestry: model.Ancestry{CityID: 1, DistrictID: 1, StreetID: 1 + int64(11+i%4)%2, CommunityID: int64(11 + i%4), CompoundID: int64(201 + i)}})
	}
	if err := c.DB.Create(&committees).Error; err != nil {
		t.Fatal(err)
	}
	states := []string{model.ActionVerified, model.ActionVerified, model.ActionVerified, model.ActionVerified, model.ActionVerified,
		model.ActionVerified, model.ActionVerified, model.ActionVerified, model.ActionDone, model.ActionClaimed, model.ActionOpen}
	owners := []struct {
		kind string
		id   int64
	}{{model.OwnerFirm, 301}, {model.OwnerFirm, 302}, {model.OwnerFirm, 303}, {model.OwnerCommittee, 0}, {model.OwnerCommunity, 0}}
	start := servicetest.Start.AddDate(-3, 0, 0)
	batch := make([]model.ActionItem, 0, 1000)
	for i := range total {
		at := start.Add(time.Duration(i) * 77 * time.Minute)
		compound := int64(201 + i%8)
		community := int64(11 + (compound-201)%4)
		o := owners[i%len(owners)]
		switch o.kind {
		case model.OwnerCommittee:
			o.id = 401 + (compound - 201)
		case model.OwnerCommunity:
			o.id = community
		}
		batch = append(batch, model.ActionItem{Base: model.Base{CreatedAt: at, UpdatedAt: at}, Title: "整改事项", OwnerKind: o.kind, OwnerID: o.id,
			DueAt: at.Add(7 * 24 * time.Hour), SourceKind: model.SourceInspection, ScopeKind: model.ScopeCompound, ScopeID: compound,
			Ancestry:    model.Ancestry{CityID: 1, DistrictID: 1, StreetID: 1 + community%2, CommunityID: community, CompoundID: compound},
			OrganiserID: 9002, CreatorID: 9002, State: states[i%len(states)], Overdue: i%31 == 0})
		if len(batch) == cap(batch) {
			if err := c.DB.Create(&batch).Error; err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	t.Cleanup(func() { c.DB.Exec("TRUNCATE TABLE action_items"); c.DB.Exec("DELETE FROM committees") })
	if err := c.DB.Exec("ANALYZE TABLE action_items, committees").Error; err != nil {
		t.Fatal(err)
	}
	sqlDB, err := c.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	svc := action.New(c.DB, c.Clock, nil, nil, action.Options{})
	grant := func(role, kind string, id int64) model.Grant {
		return model.Grant{Role: role, ScopeKind: kind, ScopeID: id}
	}
	actor := func(id int64, gs ...model.Grant) *service.Actor { return &service.Actor{UserID: id, Grants: gs} }
	const limit = 20
	cases := []struct {
		name   string
		actor  *service.Actor
		f      action.Filter
		second bool
	}{
		{"a community's ledger", actor(9002, grant(model.RoleCommunityStaff, model.ScopeCommunity, 11)), action.Filter{}, false},
		{"a community's open and claimed items", actor(9002, grant(model.RoleCommunityStaff, model.ScopeCommunity, 11)),
			action.Filter{States: []string{model.ActionOpen, model.ActionClaimed}}, false},
		{"second page", actor(9002, grant(model.RoleCommunityStaff, model.ScopeCommunity, 12)), action.Filter{}, true},
		{"a street's ledger", actor(9003, grant(model.RoleStreetStaff, model.ScopeStreet, 2)), action.Filter{}, false},
		{"a firm's items", actor(9005, grant(model.RoleFirmManager, model.ScopeFirm, 301)), action.Filter{}, false},
		{"a committee's compound and items", actor(9006, grant(model.RoleCommittee, model.ScopeCompound, 203)), action.Filter{}, false},
		{"the platform's open items", actor(9007, grant(model.RolePlatformAdmin, model.ScopePlatform, 0)),
			action.Filter{States: []string{model.ActionOpen}}, false},
	}
	for n, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := service.Page{Limit: limit}
			if tc.second {
				first, err := svc.List(c.Ctx, tc.actor, tc.f, service.Page{Limit: 5})
				if err != nil || len(first.Items) < 5 {
					t.Fatalf("first page: %v", err)
				}
				p.After = first.Items[4].ID
			}
			name := fmt.Sprintf("test:ledger%d", n)
			stop := servicetest.Capture(t, c.DB, name, "action_items")
			page, err := svc.List(c.Ctx, tc.actor, tc.f, p)
			seen := stop()
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Items) != limit {
				t.Fatalf("%d items: the seed does not fill the page", len(page.Items))
			}
			var lists []servicetest.Statement
			for _, st := range seen {
				if strings.Contains(st.SQL, "ORDER BY id DESC") {
					lists = append(lists, st)
				}
			}
			if len(lists) != 1 {
				t.Fatalf("want one read of a page of items, got %d: %v", len(lists), seen)
			}
			parts := 0
			for _, r := range servicetest.Analyze(t, sqlDB, lists[0].SQL, lists[0].Vars) {
				if strings.Contains(r["Extra"], "filesort") {
					t.Errorf("filesort in %v\nsql: %s", r, lists[0].SQL)
				}
				if r["table"] != "action_items" {
					continue
				}
				parts++
				if r["key"] == "" {
					t.Errorf("no index used: %v", r)
				}
				if n, _ := strconv.ParseFloat(r["r_rows"], 64); n > 3*(limit+1) {
					t.Errorf("%v rows read by one part, want at most %d: %v\nsql: %s", n, 3*(limit+1), r, lists[0].SQL)
				}
			}
			if parts == 0 {
				t.Fatal("no read of action_items in the plan")
			}
		})
	}
}
