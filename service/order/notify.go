package order

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/message"
)

// Template kinds of the inbox messages (DESIGN.md §5).
const (
	kindNewReport = message.KindNewReport
	kindProgress  = message.KindProgress
	kindRating    = message.KindRating
)

// audience is who an event is told to.
type audience int

const (
	toGrid     audience = iota // grid workers of the grid, else the community's dispatchers
	toLevel                    // dispatchers of o.Level
	toHandler                  // managers of the handler firm, staff of the department …
	toAuthor                   // the author
	toAssignee                 // the firm worker the order is assigned to
	toHolder                   // whoever holds the order in its current state
	toResident                 // the resident it is for (else the author)
)

// eventRoute says who an event reaches and as which template.
var eventRoute = map[string]struct {
	to    audience
	kind  string
	title string
}{
	"submitted":  {toGrid, kindNewReport, "新工单待核实"},
	"patrol":     {toGrid, kindNewReport, "巡查上报工单"},
	"verified":   {toLevel, kindNewReport, "工单待派单"},
	"returned":   {toLevel, kindNewReport, "工单被退回"},
	"escalated":  {toLevel, kindNewReport, "工单已升级"},
	"overdue":    {toLevel, kindNewReport, "工单已超时"},
	"reopened":   {toLevel, kindNewReport, "工单经回访重新办理"},
	"dispatched": {toHandler, kindNewReport, "新派工单待接单"},
	"urged":      {toHandler, kindNewReport, "工单被督办"},
	"reworked":   {toHandler, kindNewReport, "工单验收未通过需返工"},
	"assigned":   {toAssignee, kindNewReport, "您有新的维修任务"},
	"accepted":   {toResident, kindProgress, "您的工单已受理"},
	"completed":  {toResident, kindProgress, "您的工单已办结"},
	"rejected":   {toAuthor, kindProgress, "您的工单未予受理"},
	"cancelled":  {toHandler, kindNewReport, "工单已被撤销"},
	"merged":     {toAuthor, kindProgress, "您的工单已合并处理"},
	"confirmed":  {toResident, kindRating, "请为工单服务评价"},
	"to_confirm": {toGrid, kindNewReport, "工单待验收"},
	// The rectification of a rating of 1–2.
	"rectify_open":      {toHandler, kindNewReport, "差评工单待整改"},
	"rectify_reported":  {toLevel, kindNewReport, "差评整改待回访"},
	"rectify_revisited": {toResident, kindProgress, "整改结果已回访，请确认"},
	"rectify_rework":    {toHandler, kindNewReport, "差评整改未解决需返工"},
}

// notify writes one inbox message per recipient of event about o inside
// tx (DESIGN.md §5). Recipients are found with one query. Events it does
// not know go to whoever holds the order now (a deadline warning, say).
// Messages never carry a resident's phone or name.
func (s *Service) notify(ctx context.Context, tx *gorm.DB, o *model.Order, event string) error {
	return s.notifyIn(ctx, tx, o, event, nil)
}

// notifyIn is notify for a caller that holds the order's category
// already (a submit): it is not read again.
func (s *Service) notifyIn(ctx context.Context, tx *gorm.DB, o *model.Order, event string, known *model.Category) error {
	route, ok := eventRoute[event]
	if !ok {
		route.to, route.kind, route.title = toHolder, kindNewReport, "工单即将超时，请尽快处理"
	}
	users, err := s.recipients(ctx, tx, o, route.to)
	if err != nil {
		return err
	}
	if len(users) == 0 {
		return nil
	}
	var cat model.Category
	if known != nil && known.ID == o.CategoryID {
		cat = *known
	} else if cat, err = model.ByID[model.Category](ctx, tx, o.CategoryID); err != nil {
		cat.Name = o.CategoryCode
	}
	body := fmt.Sprintf("工单 %s（%s）", o.Number, cat.Name)
	if o.Place != "" {
		body += "，地点：" + o.Place
	}
	if d := maskDigits(service.CutRunes(o.Description, 60)); d != "" {
		body += "。" + d
	}
	ev := message.Event{
		Kind: route.kind, Event: "order." + event, Key: fmt.Sprintf("order:%d:%s:v%d", o.ID, event, o.Version),
		UserIDs: users, Title: route.title, Body: body, OrderID: o.ID,
		Fields: map[string]string{
			message.FieldNumber: o.Number, message.FieldCategory: cat.Name, message.FieldPlace: o.Place,
			message.FieldTime: s.clock.Now().UTC().Format(time.RFC3339), message.FieldState: o.State,
			message.FieldTitle: route.title,
		},
	}
	if err := s.msgs.Publish(ctx, tx, ev); err != nil {
		return err
	}
	if event != "confirmed" {
		return nil
	}
	// One reminder to rate, withdrawn when the order is rated or closes.
	remind := ev
	remind.Event, remind.Key = "order.rating_reminder", fmt.Sprintf("order:%d:rating_reminder:v%d", o.ID, o.Version)
	remind.Title, remind.Fields = "工单待评价提醒", maps.Clone(ev.Fields)
	remind.Fields[message.FieldTitle] = remind.Title
	remind.NotBefore, remind.CancelKey = s.clock.Now().UTC().Add(s.opts.RatingReminder), ratingKey(o.ID)
	return s.msgs.Publish(ctx, tx, remind)
}

// ratingKey cancels the rating reminder of an order.
func ratingKey(orderID int64) string { return fmt.Sprintf("rating:order:%d", orderID) }

// recipients returns the distinct user ids an audience of o consists of,
// with one query.
func (s *Service) recipients(ctx context.Context, tx *gorm.DB, o *model.Order, to audience) ([]int64, error) {
	if to == toHolder {
		to = holderOf(o)
	}
	switch to {
	case toAuthor:
		return nonZero(o.AuthorID), nil
	case toResident:
		if o.ResidentID != 0 {
			return nonZero(o.ResidentID), nil
		}
		return nonZero(o.AuthorID), nil
	case toAssignee:
		return nonZero(o.AssigneeID), nil
	}
	var seats []model.Seat
	var gridFirst bool
	switch to {
	case toGrid:
		gridFirst = true
		seats = []model.Seat{{Role: model.RoleGridWorker, ScopeKind: model.ScopeGrid, ScopeID: o.GridID},
			{Role: model.RoleCommunityStaff, ScopeKind: model.ScopeCommunity, ScopeID: o.CommunityID}}
	case toLevel:
		return s.levelHolders(ctx, tx, o)
	case toHandler:
		role, kind := handlerRole(o.HandlerKind)
		if role == "" {
			return nil, nil
		}
		seats = []model.Seat{{Role: role, ScopeKind: kind, ScopeID: o.HandlerID}}
	}
	rows, err := s.holders(ctx, tx, seats...)
	if err != nil {
		return nil, fmt.Errorf("find recipients: %w", err)
	}
	pick := func(role string) []int64 {
		seen := map[int64]bool{}
		var ids []int64
		for _, r := range rows {
			if (role == "" || r.Role == role) && !seen[r.UserID] {
				seen[r.UserID] = true
				ids = append(ids, r.UserID)
			}
		}
		return ids
	}
	if gridFirst {
		if ids := pick(model.RoleGridWorker); len(ids) > 0 {
			return ids, nil
		}
		return pick(model.RoleCommunityStaff), nil
	}
	return pick(""), nil
}

// levelHolders are the dispatchers of o's level; when nobody holds that
// level (a street without staff yet), those of the first level above that
// somebody holds, so that an order escalated there is seen instead of
// waiting unseen.
func (s *Service) levelHolders(ctx context.Context, tx *gorm.DB, o *model.Order) ([]int64, error) {
	at := *o
	for at.Level != "" {
		role, kind, id := levelScope(&at)
		gs, err := s.holders(ctx, tx, model.Seat{Role: role, ScopeKind: kind, ScopeID: id})
		if err != nil {
			return nil, fmt.Errorf("find recipients: %w", err)
		}
		if len(gs) > 0 {
			ids := make([]int64, len(gs))
			for i, g := range gs {
				ids[i] = g.UserID
			}
			slices.Sort(ids)
			return slices.Compact(ids), nil
		}
		at.Level = nextLevel(at.Level)
	}
	return nil, nil
}

// holderOf says who must act on o next. A submitted or completed order
// is the grid's to verify only while it is at the grid: escalated, it is
// its level's.
func holderOf(o *model.Order) audience {
	switch o.State {
	case model.StateSubmitted, model.StateCompleted:
		if o.Level != "" && o.Level != model.OrderLevelGrid {
			return toLevel
		}
		return toGrid
	case model.StateDispatched:
		return toHandler
	case model.StateAccepted, model.StateInProgress:
		if o.AssigneeID != 0 {
			return toAssignee
		}
		return toHandler
	case model.StateConfirmed:
		return toResident
	}
	return toLevel
}

func nonZero(id int64) []int64 {
	if id == 0 {
		return nil
	}
	return []int64{id}
}

// maskDigits hides runs of 7 or more digits (phone numbers a resident
// typed into a description) so that messages never carry them.
func maskDigits(s string) string {
	var b strings.Builder
	r := []rune(s)
	for i := 0; i < len(r); {
		j := i
		for j < len(r) && r[j] >= '0' && r[j] <= '9' {
			j++
		}
		if j == i {
			b.WriteRune(r[i])
			i++
			continue
		}
		if j-i >= 7 {
			b.WriteString(strings.Repeat("*", j-i))
		} else {
			b.WriteString(string(r[i:j]))
		}
		i = j
	}
	return b.String()
}
