package action

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/message"
)

// notice says who hears of an action and as which template kind.
type notice struct {
	kind  string
	title string
	to    audience
}

type audience int

const (
	toOwner     audience = iota + 1 // who may claim: the owner organisation's members
	toOrganiser                     // who verifies
	toWorkers                       // who claimed it and who did the work
)

var notices = map[string]notice{
	ActCreate:   {message.KindNewReport, "新的整改事项待认领", toOwner},
	ActClaim:    {message.KindProgress, "整改事项已被认领", toOrganiser},
	ActDone:     {message.KindProgress, "整改事项已办结待验收", toOrganiser},
	ActVerify:   {message.KindProgress, "整改事项已验收通过", toWorkers},
	ActSendBack: {message.KindProgress, "整改事项被退回需重新整改", toWorkers},
	ActOverdue:  {message.KindProgress, "整改事项已逾期", toOrganiser},
}

// notifyBatch is the most recipients one Publish call carries.
const notifyBatch = 500

// notify tells the audience of action about it inside tx. The event key
// names the item, the action and the version it produced, so a repeated
// call (a retried scheduler pass) queues nothing twice.
func (s *Service) notify(ctx context.Context, tx *gorm.DB, it *model.ActionItem, action string) error {
	if s.msgs == nil {
		return nil
	}
	n, ok := notices[action]
	if !ok {
		return nil
	}
	users, err := s.recipients(ctx, tx, it, n.to)
	if err != nil {
		return err
	}
	key := fmt.Sprintf("action_item:%d:%s:v%d", it.ID, action, it.Version)
	if action == ActOverdue {
		key = fmt.Sprintf("action_item:%d:overdue", it.ID)
	}
	place, err := placeName(ctx, tx, it)
	if err != nil {
		return err
	}
	body := fmt.Sprintf("整改事项 %s「%s」，截止 %s，当前状态：%s。", Number(*it), service.CutRunes(it.Title, 60), DueDate(*it),
		StateName(it.State))
	for start := 0; start < len(users); start += notifyBatch {
		end := min(start+notifyBatch, len(users))
		ev := message.Event{
			Kind: n.kind, Event: "action_item." + action, Key: key, UserIDs: users[start:end],
			Title: n.title, Body: body, Page: "pages/action/detail?id={action_item_id}",
			Fields: map[string]string{
				message.FieldNumber: Number(*it), message.FieldCategory: "整改事项", message.FieldPlace: place,
				message.FieldTime: s.clock.Now().UTC().Format(time.RFC3339), message.FieldState: StateName(it.State),
				message.FieldTitle: n.title, "action_item_id": fmt.Sprint(it.ID),
			},
		}
		if err := s.msgs.Publish(ctx, tx, ev); err != nil {
			return err
		}
	}
	return nil
}

// recipients lists the users of an audience.
func (s *Service) recipients(ctx context.Context, tx *gorm.DB, it *model.ActionItem, to audience) ([]int64, error) {
	switch to {
	case toOrganiser:
		return nonZero(it.OrganiserID), nil
	case toWorkers:
		ids := nonZero(it.ClaimedBy)
		if it.DoneBy != 0 && it.DoneBy != it.ClaimedBy {
			ids = append(ids, it.DoneBy)
		}
		// The doer of sent-back work is in the history, not on the item.
		if it.DoneBy == 0 {
			last, _, err := model.LastActionEvent(ctx, tx, it.ID, ActDone)
			if err != nil {
				return nil, err
			}
			if last.ActorID != 0 && last.ActorID != it.ClaimedBy {
				ids = append(ids, last.ActorID)
			}
		}
		return ids, nil
	}
	var seat model.Seat
	switch it.OwnerKind {
	case model.OwnerFirm:
		// Managers claim for the firm; its workers hear from them.
		seat = model.Seat{Role: model.RoleFirmManager, ScopeKind: model.ScopeFirm, ScopeID: it.OwnerID}
	case model.OwnerDepartment:
		seat = model.Seat{Role: model.RoleDepartmentStaff, ScopeKind: model.ScopeDepartment, ScopeID: it.OwnerID}
	case model.OwnerCommittee:
		// A committee speaks through the committee members of its compound.
		c, err := model.ByID[model.Committee](ctx, tx, it.OwnerID)
		if errors.Is(err, model.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("owner members of action item %d: %w", it.ID, err)
		}
		seat = model.Seat{Role: model.RoleCommittee, ScopeKind: model.ScopeCompound, ScopeID: c.CompoundID}
	case model.OwnerCommunity:
		seat = model.Seat{Role: model.RoleCommunityStaff, ScopeKind: model.ScopeCommunity, ScopeID: it.OwnerID}
	default:
		return nil, nil
	}
	ids, err := model.HolderIDs(ctx, tx, seat)
	if err != nil {
		return nil, fmt.Errorf("owner members of action item %d: %w", it.ID, err)
	}
	return ids, nil
}

func nonZero(id int64) []int64 {
	if id == 0 {
		return nil
	}
	return []int64{id}
}

// placeName is the name of the compound or community an item concerns.
func placeName(ctx context.Context, tx *gorm.DB, it *model.ActionItem) (string, error) {
	var table any = &model.Region{}
	if it.ScopeKind == model.ScopeCompound {
		table = &model.Compound{}
	}
	names, err := model.NamesOf(ctx, tx, table, "name", []int64{it.ScopeID})
	if err != nil {
		return "", fmt.Errorf("place of action item %d: %w", it.ID, err)
	}
	return names[it.ScopeID], nil
}
