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
// on duty), and street staff once the call has gone to the street.
func (s *Service) alert(ctx context.Context, tx *gorm.DB, c *model.EmergencyCall, o *model.Order, place callPlace, kind, event, title string, streetOnly bool) error {
	users, err := alertRecipients(ctx, tx, c.Ancestry, c.EscalatedAt != nil, streetOnly)
	if err != nil || len(users) == 0 {
		return err
	}
	body := fmt.Sprintf("%s（%s）发起一键呼叫，工单 %s", place.Address(), vulnerableLabel[kind], o.Number)
	if c.AlertCount > 1 {
		body += fmt.Sprintf("，第 %d 次提醒", c.AlertCount)
	}
	return s.msgs.Publish(ctx, tx, message.Event{
		Kind: kindNewReport, Event: event, Key: fmt.Sprintf("emergency:%d:%s:%d", c.ID, event, c.AlertCount),
		UserIDs: users, Title: title, Body: body, OrderID: o.ID,
		Fields: map[string]string{
			message.FieldNumber: o.Number, message.FieldCategory: "一键呼叫", message.FieldPlace: place.Address(),
			message.FieldTime: s.clock.Now().UTC().Format(time.RFC3339), message.FieldTitle: title,
		},
	})
}

// alertRecipients finds the responders of a place with one query.
func alertRecipients(ctx context.Context, tx *gorm.DB, anc model.Ancestry, street, streetOnly bool) ([]int64, error) {
	var seats []model.Seat
	if !streetOnly {
		seats = append(seats,
			model.Seat{Role: model.RoleGridWorker, ScopeKind: model.ScopeGrid, ScopeID: anc.GridID},
			model.Seat{Role: model.RoleBuildingSteward, ScopeKind: model.ScopeBuilding, ScopeID: anc.BuildingID},
			model.Seat{Role: model.RoleCommunityDuty, ScopeKind: model.ScopeCommunity, ScopeID: anc.CommunityID},
			model.Seat{Role: model.RoleCommunityStaff, ScopeKind: model.ScopeCommunity, ScopeID: anc.CommunityID})
	}
	if street || streetOnly {
		seats = append(seats, model.Seat{Role: model.RoleStreetStaff, ScopeKind: model.ScopeStreet, ScopeID: anc.StreetID})
	}
	gs, err := model.Holders(ctx, tx, seats...)
	if err != nil {
		return nil, fmt.Errorf("find emergency responders: %w", err)
	}
	duty := slices.ContainsFunc(gs, func(g model.Grant) bool { return g.Role == model.RoleCommunityDuty })
	seen := map[int64]bool{}
	var ids []int64
	for _, g := range gs {
		if (g.Role == model.RoleCommunityStaff && duty) || seen[g.UserID] {
			continue
		}
		seen[g.UserID] = true
		ids = append(ids, g.UserID)
	}
	return ids, nil
}
