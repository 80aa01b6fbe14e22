package order

import (
	"context"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service/message"
)

// Who an emergency call alerts. The ordinary order notices (notify) do
// not apply: a call alerts everyone who may respond at once, and again
// until one of them does.

// alert writes one inbox message to each person who must respond to the
// call: the grid workers of its grid, the building stewards of its
// building and the community's duty staff (its dispatchers when nobody is
// on duty), and street staff once the call has gone to the street. A
// level whose holders can be reached on no channel (or which nobody
// holds) brings in the next one of the chain at once — grid worker →
// building steward → community duty → community staff → street → city — rather
// than leaving the call with nobody alerted. Every recipient gets one
// push per channel he can be reached on (message.Event.Urgent); one
// reachable on none gets the inbox message only and is not counted. It
// returns how many responders were alerted on some channel.
func (s *Service) alert(ctx context.Context, tx *gorm.DB, c *model.EmergencyCall, o *model.Order, place callPlace, kind, event, title string, streetOnly bool) (int, error) {
	chain, err := alertChain(ctx, tx, c.Ancestry)
	if err != nil {
		return 0, err
	}
	var all []int64
	for _, l := range chain {
		all = append(all, l.users...)
	}
	reach, err := s.msgs.Reach(ctx, tx, kindNewReport, all)
	if err != nil {
		return 0, err
	}
	users, reached := pickResponders(chain, reach, c.EscalatedAt != nil, streetOnly)
	if len(users) == 0 {
		return 0, nil
	}
	body := fmt.Sprintf("%s（%s）发起一键呼叫，工单 %s", place.Address(), vulnerableLabel[kind], o.Number)
	if c.AlertCount > 1 {
		body += fmt.Sprintf("，第 %d 次提醒", c.AlertCount)
	}
	err = s.msgs.Publish(ctx, tx, message.Event{
		Kind: kindNewReport, Event: event, Key: fmt.Sprintf("emergency:%d:%s:%d", c.ID, event, c.AlertCount),
		UserIDs: users, Title: title, Body: body, OrderID: o.ID, Urgent: true,
		Fields: map[string]string{
			message.FieldNumber: o.Number, message.FieldCategory: "一键呼叫", message.FieldPlace: place.Address(),
			message.FieldTime: s.clock.Now().UTC().Format(time.RFC3339), message.FieldTitle: title,
		},
	})
	if err != nil {
		return 0, err
	}
	c.AlertsSent += reached
	return reached, model.AddCallAlerts(ctx, tx, c.ID, reached)
}

// chainRoles are the responders of a call in the order the chain tries
// them.
// The city's staff close it: alerted only when the street can be reached
// by nobody.
var chainRoles = []string{model.RoleGridWorker, model.RoleBuildingSteward, model.RoleCommunityDuty,
	model.RoleCommunityStaff, model.RoleStreetStaff, model.RoleCityStaff}

// chainLevel is the holders of one role of the chain.
type chainLevel struct {
	role  string
	users []int64
}

// alertChain finds the responders of a place with one query, one level
// per entry of chainRoles.
func alertChain(ctx context.Context, tx *gorm.DB, anc model.Ancestry) ([]chainLevel, error) {
	gs, err := model.Holders(ctx, tx,
		model.Seat{Role: model.RoleGridWorker, ScopeKind: model.ScopeGrid, ScopeID: anc.GridID},
		model.Seat{Role: model.RoleBuildingSteward, ScopeKind: model.ScopeBuilding, ScopeID: anc.BuildingID},
		model.Seat{Role: model.RoleCommunityDuty, ScopeKind: model.ScopeCommunity, ScopeID: anc.CommunityID},
		model.Seat{Role: model.RoleCommunityStaff, ScopeKind: model.ScopeCommunity, ScopeID: anc.CommunityID},
		model.Seat{Role: model.RoleStreetStaff, ScopeKind: model.ScopeStreet, ScopeID: anc.StreetID},
		model.Seat{Role: model.RoleCityStaff, ScopeKind: model.ScopeCity, ScopeID: anc.CityID})
	if err != nil {
		return nil, fmt.Errorf("find emergency responders: %w", err)
	}
	chain := make([]chainLevel, len(chainRoles))
	for i, r := range chainRoles {
		chain[i].role = r
		for _, g := range gs {
			if g.Role == r && !slices.Contains(chain[i].users, g.UserID) {
				chain[i].users = append(chain[i].users, g.UserID)
			}
		}
	}
	return chain, nil
}

// pickResponders chooses who a round alerts: the grid, the building and
// the duty staff (the dispatchers when nobody is on duty) unless
// streetOnly, the street once street (or streetOnly); and for every chosen
// level nobody of which can be reached, the level after it too. It returns
// the distinct users and how many of them can be reached.
func pickResponders(chain []chainLevel, reach map[int64][]string, street, streetOnly bool) ([]int64, int) {
	on := make([]bool, len(chain))
	if !streetOnly {
		on[0], on[1], on[2] = true, true, true
		on[3] = len(chain[2].users) == 0
	}
	on[4] = street || streetOnly
	for i := range chain {
		if !on[i] || i+1 == len(chain) {
			continue
		}
		if !slices.ContainsFunc(chain[i].users, func(u int64) bool { return len(reach[u]) > 0 }) {
			on[i+1] = true
		}
	}
	var users []int64
	reached := 0
	for i, l := range chain {
		if !on[i] {
			continue
		}
		for _, u := range l.users {
			if slices.Contains(users, u) {
				continue
			}
			users = append(users, u)
			if len(reach[u]) > 0 {
				reached++
			}
		}
	}
	return users, reached
}
