package message

import (
	"context"
	"encoding/json"
	"slices"

	"gorm.io/gorm"

	"redprop/model"
)

// Channel choice of emergency rows, and the allowance routine pushes
// leave them. An urgent row (Priority > 0) was published for one channel
// (publishUrgent) and goes out there or not at all: the user's preferred
// channel does not apply, since each of his channels has its own row.

// Skip reasons of this file.
const (
	// SkipReserved: a routine push would have used the allowance held
	// back for emergency alerts.
	SkipReserved = "reserved"
	// SkipNoPhone: the user has no phone on file for a text.
	SkipNoPhone = "no_phone"
	// SkipChannelOff: the row's channel was turned off since it was
	// published.
	SkipChannelOff = "channel_off"
)

// smsMessage is one text about to be sent.
type smsMessage struct {
	phone, code string
	params      map[string]string
}

// responderRoles are the roles an emergency call alerts (the order
// package's chain). Only their holders need allowances kept for alerts.
var responderRoles = []string{model.RoleGridWorker, model.RoleBuildingSteward, model.RoleCommunityDuty,
	model.RoleCommunityStaff, model.RoleStreetStaff, model.RoleCityStaff}

// keepFor is how many allowances of tpl a push of row must leave: routine
// pushes of the template emergency alerts use leave the reserve, to a
// responder; a firm manager or worker is never alerted and keeps nothing
// back.
func (s *Service) keepFor(ctx context.Context, tx *gorm.DB, row model.Outbox, tpl Template) (int, error) {
	if row.Priority > 0 || tpl.LongTerm {
		return 0, nil
	}
	return s.reserveFor(ctx, tx, row.UserID, tpl.ID)
}

// reserveFor is the reserve a user keeps of template id.
func (s *Service) reserveFor(ctx context.Context, tx *gorm.DB, userID int64, id string) (int, error) {
	if s.cfg.EmergencyReserve == 0 || id != s.cfg.Templates[KindNewReport].ID {
		return 0, nil
	}
	gs, err := model.LiveGrants(ctx, tx, userID)
	if err != nil {
		return 0, err
	}
	for _, g := range gs {
		if slices.Contains(responderRoles, g.Role) {
			return s.cfg.EmergencyReserve, nil
		}
	}
	return 0, nil
}

// prepareUrgent readies an urgent row of the service account or SMS
// channel (the mini-program's take the ordinary way, without reserve).
func (s *Service) prepareUrgent(ctx context.Context, tx *gorm.DB, row *model.Outbox, pl payload,
	skip func(string) (prepared, error)) (prepared, error) {
	switch row.Channel {
	case model.ChannelOA:
		if !s.oaReady(row.Kind) {
			return skip(SkipChannelOff)
		}
		openID, err := linkedOpenID(ctx, tx, row.UserID)
		if err != nil {
			return prepared{}, err
		}
		if openID == "" {
			return skip(SkipNotFollowing)
		}
		m := s.oaTemplateMessage(*row, pl, openID)
		if err := model.RouteOutbox(ctx, tx, row.ID, model.ChannelOA, m.ToUser, m.TemplateID); err != nil {
			return prepared{}, err
		}
		if s.cfg.Sandbox {
			raw, _ := json.Marshal(m.Data)
			rec := model.SandboxPush{OutboxID: row.ID, UserID: row.UserID, Channel: model.ChannelOA, ToUser: m.ToUser,
				Kind: row.Kind, Event: row.Event, TemplateID: m.TemplateID, Page: m.PagePath + m.URL, Data: string(raw),
				Note: "紧急呼叫：真实环境下将通过公众号模板消息发送"}
			if err := model.InsertSandboxPush(ctx, tx, &rec); err != nil {
				return prepared{}, err
			}
			return skip(SkipSandbox)
		}
		return prepared{oa: m}, nil
	case model.ChannelSMS:
		if !s.smsReady() {
			return skip(SkipChannelOff)
		}
		phone, err := phoneOf(ctx, tx, row.UserID)
		if err != nil {
			return prepared{}, err
		}
		if phone == "" {
			return skip(SkipNoPhone)
		}
		m := &smsMessage{phone: phone, code: s.cfg.SMSTemplate.Code, params: s.cfg.SMSTemplate.render(pl)}
		if err := model.RouteOutbox(ctx, tx, row.ID, model.ChannelSMS, maskPhone(phone), m.code); err != nil {
			return prepared{}, err
		}
		if s.cfg.Sandbox {
			raw, _ := json.Marshal(m.params)
			rec := model.SandboxPush{OutboxID: row.ID, UserID: row.UserID, Channel: model.ChannelSMS, ToUser: maskPhone(phone),
				Kind: row.Kind, Event: row.Event, TemplateID: m.code, Data: string(raw), Note: "紧急呼叫：真实环境下将发送短信"}
			if err := model.InsertSandboxPush(ctx, tx, &rec); err != nil {
				return prepared{}, err
			}
			return skip(SkipSandbox)
		}
		return prepared{sms: m}, nil
	}
	return skip(SkipChannelOff)
}

// sendSMS is the call of an SMS row.
func (s *Service) sendSMS(ctx context.Context, m *smsMessage) error {
	return s.cfg.SMS.Send(ctx, m.phone, m.code, m.params)
}

// heldBack says whether what the user has left of tpl is all reserve for
// row (the sandbox's note).
func (s *Service) heldBack(ctx context.Context, tx *gorm.DB, row model.Outbox, tpl Template) (bool, error) {
	keep, err := s.keepFor(ctx, tx, row, tpl)
	if err != nil || keep == 0 {
		return false, err
	}
	q, err := model.QuotaOf(ctx, tx, row.UserID, tpl.ID)
	if err != nil {
		return false, err
	}
	return q.Remaining <= keep, nil
}
