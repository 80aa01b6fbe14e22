package dashboard_test

import (
	"fmt"
	"testing"

	"redprop/model"
	"redprop/service"
	"redprop/service/dashboard"
)

// TestParentIsOneLevelUpWithinTheGrants walks up the tree from a grid as
// people of each level: one level at a time, past a level the tree leaves
// out, and never to a scope the person's grants do not cover.
func TestParentIsOneLevelUpWithinTheGrants(t *testing.T) {
	anc := model.Ancestry{CityID: 1, DistrictID: 2, StreetID: 3, CommunityID: 4, CompoundID: 5, GridID: 6}
	noDistrict := anc
	noDistrict.DistrictID = 0
	grid := dashboard.Scope{Kind: model.ScopeGrid, ID: 6, Ancestry: anc}
	community := dashboard.Scope{Kind: model.ScopeCommunity, ID: 4, Ancestry: anc}
	street := dashboard.Scope{Kind: model.ScopeStreet, ID: 3, Ancestry: anc}
	actor := func(role, kind string, id int64) *service.Actor {
		return &service.Actor{UserID: 1, Grants: []model.Grant{{Role: role, ScopeKind: kind, ScopeID: id}}}
	}
	cityStaff := actor(model.RoleCityStaff, model.ScopeCity, 1)
	streetStaff := actor(model.RoleStreetStaff, model.ScopeStreet, 3)
	dispatcher := actor(model.RoleCommunityStaff, model.ScopeCommunity, 4)
	manager := actor(model.RoleFirmManager, model.ScopeFirm, 9)
	for _, tc := range []struct {
		name string
		a    *service.Actor
		at   dashboard.Scope
		want string // kind:id, "" for none
	}{
		{"a street official at a grid", streetStaff, grid, "community:4"},
		{"a street official at a community", streetStaff, community, "street:3"},
		{"a street official at their street", streetStaff, street, ""},
		{"a dispatcher at a grid", dispatcher, grid, "community:4"},
		{"a dispatcher at their community", dispatcher, community, ""},
		{"the city at a street", cityStaff, street, "district:2"},
		{"the city at a street with no district", cityStaff, dashboard.Scope{Kind: model.ScopeStreet, ID: 3, Ancestry: noDistrict}, "city:1"},
		{"the city at the city", cityStaff, dashboard.Scope{Kind: model.ScopeCity, ID: 1, Ancestry: anc}, ""},
		{"a firm's figures", manager, dashboard.Scope{Kind: model.ScopeFirm, ID: 9}, ""},
		{"a firm manager at a grid", manager, grid, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if p, ok := dashboard.Parent(tc.a, tc.at); ok {
				got = fmt.Sprintf("%s:%d", p.Kind, p.ID)
			}
			if got != tc.want {
				t.Fatalf("up to %q, want %q", got, tc.want)
			}
		})
	}
}
