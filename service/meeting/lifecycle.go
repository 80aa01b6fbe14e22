package meeting

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"redprop/model"
	"redprop/service"
	"redprop/service/message"
)

// Events told to participants (message.Event.Event).
const (
	EventScheduled = "meeting.scheduled"
	EventChanged   = "meeting.changed"
	EventCancelled = "meeting.cancelled"
	EventReminder  = "meeting.reminder"
	EventMinutes   = "meeting.minutes"
)

type notice int

const (
	noticeScheduled notice = iota
	noticeChanged
	noticeCancelled
)

var (
	errNoInvitees = service.Unprocessable("no_participants", "请先添加参会人或参会群体")
	errNobody     = service.Unprocessable("no_participants", "参会群体中没有任何成员，请添加参会人")
	errTooEarly   = service.Unprocessable("too_early", "会议开始前 1 小时内才能开始会议和签到")
	errReason     = service.Invalid("bad_reason", "取消原因不能超过 200 个字")
)

// cancelKey withdraws every reminder of a meeting still waiting.
func cancelKey(meetingID int64) string { return fmt.Sprintf("meeting:%d", meetingID) }

var beijing = time.FixedZone("CST", 8*3600)

var kindWords = map[string]string{
	model.MeetingJoint: "联席会议", model.MeetingTripartite: "三方协调议事", model.MeetingTalk: "民情恳谈",
	model.MeetingAssembly: "业主大会", model.MeetingOther: "会议",
}

// when is the meeting's time in Beijing words: 11月25日 14:30–16:00.
func when(m *model.Meeting) string {
	s, e := m.StartsAt.In(beijing), m.EndsAt.In(beijing)
	out := fmt.Sprintf("%d月%d日 %s–", s.Month(), s.Day(), s.Format("15:04"))
	if e.YearDay() != s.YearDay() || e.Year() != s.Year() {
		out += fmt.Sprintf("%d月%d日 ", e.Month(), e.Day())
	}
	return out + e.Format("15:04")
}

// where is the meeting's place in words.
func where(m *model.Meeting) string {
	switch {
	case m.Place != "" && m.OnlineURL != "":
		return m.Place + "（也可线上参加）"
	case m.Place != "":
		return m.Place
	}
	return "线上会议"
}

// event is the common part of every event about a meeting.
func event(m *model.Meeting, name, key, title, body, short string) message.Event {
	return message.Event{
		Kind: message.KindMeeting, Event: name, Key: key, Title: title, Body: body,
		Fields: map[string]string{
			message.FieldMeetingTitle: m.Title,
			message.FieldMeetingTime:  m.StartsAt.UTC().Format(time.RFC3339) + "~" + m.EndsAt.UTC().Format(time.RFC3339),
			message.FieldMeetingPlace: where(m),
			message.FieldMeetingID:    fmt.Sprint(m.ID),
			message.FieldTitle:        short,
		},
	}
}

// notice is the scheduled, changed or cancelled notice of m.
func (s *Service) notice(m *model.Meeting, n notice, reason string) message.Event {
	head := fmt.Sprintf("【%s】%s", kindWords[m.Kind], m.Title)
	switch n {
	case noticeChanged:
		return event(m, EventChanged, fmt.Sprintf("meeting:%d:changed:%d", m.ID, m.Version), "会议变更："+m.Title,
			fmt.Sprintf("%s 的时间、地点或名称有变更，现为：%s，%s。", head, when(m), where(m)), "会议时间地点有变更")
	case noticeCancelled:
		body := fmt.Sprintf("原定于 %s 在 %s 召开的%s已取消。", when(m), where(m), head)
		if reason != "" {
			body += "原因：" + reason
		}
		return event(m, EventCancelled, fmt.Sprintf("meeting:%d:cancelled", m.ID), "会议取消："+m.Title, body, "会议已取消")
	}
	return event(m, EventScheduled, fmt.Sprintf("meeting:%d:scheduled", m.ID), "会议通知："+m.Title,
		fmt.Sprintf("%s 定于 %s 在 %s 召开，请在小程序中回复是否参加。", head, when(m), where(m)), "请回复是否参加")
}

// reminders are m's reminders still ahead of now, each scheduled at its
// offset before the start and withdrawn with the meeting's cancel key.
// Their keys carry the version: re-armed reminders are new events.
func (s *Service) reminders(m *model.Meeting, now time.Time) []message.Event {
	var out []message.Event
	for _, d := range s.opts.Reminders {
		at := m.StartsAt.Add(-d)
		if !at.After(now) {
			continue
		}
		ev := event(m, EventReminder, fmt.Sprintf("meeting:%d:remind:%d:%d", m.ID, m.Version, int(d/time.Minute)),
			"会议提醒："+m.Title, fmt.Sprintf("【%s】%s 将于 %s 后开始：%s，%s。", kindWords[m.Kind], m.Title, span(d), when(m), where(m)),
			"会议即将开始")
		ev.NotBefore, ev.CancelKey = at, cancelKey(m.ID)
		out = append(out, ev)
	}
	return out
}

// span says a reminder offset in Chinese: 24 小时, 30 分钟, 1 小时 30 分钟.
func span(d time.Duration) string {
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case h == 0:
		return fmt.Sprintf("%d 分钟", m)
	case m == 0:
		return fmt.Sprintf("%d 小时", h)
	}
	return fmt.Sprintf("%d 小时 %d 分钟", h, m)
}

// tell publishes events to the meeting's participants whose row id is
// above after (0: everyone), streaming them in keyset batches of at most
// BatchSize inside tx.
func (s *Service) tell(ctx context.Context, tx *gorm.DB, meetingID, after int64, evs ...message.Event) error {
	for {
		var rows []model.MeetingParticipant
		if err := tx.WithContext(ctx).Select("id", "user_id").Where("meeting_id = ? AND id > ?", meetingID, after).
			Order("id").Limit(s.opts.BatchSize).Find(&rows).Error; err != nil {
			return fmt.Errorf("read participants: %w", err)
		}
		if len(rows) == 0 {
			return nil
		}
		if s.onBatch != nil {
			s.onBatch("notify", len(rows))
		}
		ids := make([]int64, len(rows))
		for i, r := range rows {
			ids[i] = r.UserID
		}
		for _, ev := range evs {
			ev.UserIDs = ids
			if err := s.msgs.Publish(ctx, tx, ev); err != nil {
				return err
			}
		}
		if len(rows) < s.opts.BatchSize {
			return nil
		}
		after = rows[len(rows)-1].ID
	}
}

// source is the query of a group's members: rows with an id (the keyset)
// and a user_id.
func source(tx *gorm.DB, g model.MeetingGroup) *gorm.DB {
	grants := func(role, kind string) *gorm.DB {
		return tx.Model(&model.Grant{}).Where("role = ? AND scope_kind = ? AND scope_id = ? AND revoked_at IS NULL", role, kind, g.TargetID)
	}
	switch g.Kind {
	case model.GroupCompoundCommittee:
		return grants(model.RoleCommittee, model.ScopeCompound)
	case model.GroupCompoundBranch:
		return grants(model.RolePartyBranch, model.ScopeCompound)
	case model.GroupCommunityStaff:
		return grants(model.RoleCommunityStaff, model.ScopeCommunity)
	case model.GroupFirmManagers:
		return grants(model.RoleFirmManager, model.ScopeFirm)
	case model.GroupGridStewards:
		return tx.Model(&model.Grant{}).Where("role = ? AND scope_kind = ? AND grid_id = ? AND revoked_at IS NULL",
			model.RoleBuildingSteward, model.ScopeBuilding, g.TargetID)
	}
	return tx.Model(&model.Residency{}).Where("compound_id = ?", g.TargetID)
}

// expand turns every group of m not yet expanded into participant rows,
// inside tx. Members are streamed in keyset batches and inserted with the
// (meeting, user) key ignoring duplicates, so nobody is loaded twice or
// invited twice, however many groups they are in.
func (s *Service) expand(ctx context.Context, tx *gorm.DB, m *model.Meeting, now time.Time) error {
	var groups []model.MeetingGroup
	if err := tx.WithContext(ctx).Where("meeting_id = ? AND expanded_at IS NULL", m.ID).Order("id").Find(&groups).Error; err != nil {
		return fmt.Errorf("read groups: %w", err)
	}
	for _, g := range groups {
		var found, added, after int64
		for {
			var rows []struct {
				ID     int64
				UserID int64
			}
			if err := source(tx.WithContext(ctx), g).Select("id", "user_id").Where("id > ?", after).
				Order("id").Limit(s.opts.BatchSize).Find(&rows).Error; err != nil {
				return fmt.Errorf("expand group %d: %w", g.ID, err)
			}
			if len(rows) == 0 {
				break
			}
			if s.onBatch != nil {
				s.onBatch("group", len(rows))
			}
			found += int64(len(rows))
			batch := make([]model.MeetingParticipant, 0, len(rows))
			seen := make(map[int64]bool, len(rows))
			for _, r := range rows {
				if !seen[r.UserID] {
					seen[r.UserID] = true
					batch = append(batch, model.MeetingParticipant{MeetingID: m.ID, UserID: r.UserID, GroupID: g.ID,
						RSVP: model.RSVPPending, Base: model.Base{CreatedAt: now, UpdatedAt: now}})
				}
			}
			if err := tx.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&batch).Error; err != nil {
				return fmt.Errorf("expand group %d: %w", g.ID, err)
			}
			if len(rows) < s.opts.BatchSize {
				break
			}
			after = rows[len(rows)-1].ID
		}
		// Counted, not summed from rows affected: MySQL reports an ignored
		// duplicate of ON DUPLICATE KEY UPDATE as affected.
		if err := tx.WithContext(ctx).Model(&model.MeetingParticipant{}).Where("meeting_id = ? AND group_id = ?", m.ID, g.ID).
			Count(&added).Error; err != nil {
			return err
		}
		if err := tx.WithContext(ctx).Model(&model.MeetingGroup{}).Where("id = ?", g.ID).
			Updates(map[string]any{"expanded_at": now, "found": found, "added": added, "updated_at": now}).Error; err != nil {
			return err
		}
	}
	return nil
}

// transition moves the locked meeting m to state with the extra columns
// set, comparing its state (zero rows: someone else moved it first).
func transition(ctx context.Context, tx *gorm.DB, m *model.Meeting, to string, set map[string]any, now time.Time, verb string) error {
	if set == nil {
		set = map[string]any{}
	}
	set["state"], set["updated_at"] = to, now
	res := tx.WithContext(ctx).Model(&model.Meeting{}).Where("id = ? AND state = ?", m.ID, m.State).Updates(set)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return stateConflict(m, verb)
	}
	m.State = to
	return nil
}

// act runs fn on the meeting locked inside one transaction, for a manager,
// and returns the meeting's view afterwards.
func (s *Service) act(ctx context.Context, a *service.Actor, id int64, fn func(tx *gorm.DB, m *model.Meeting, now time.Time) error) (View, error) {
	if _, err := s.manage(ctx, a, id); err != nil {
		return View{}, err
	}
	err := model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		m, err := lock(ctx, tx, id)
		if err != nil {
			return err
		}
		return fn(tx, &m, s.clock.Now().UTC())
	})
	if err != nil {
		return View{}, err
	}
	return s.Get(ctx, a, id)
}

// Schedule sends a draft meeting: its groups expand into participants,
// every participant gets one notice, and the reminders are armed.
func (s *Service) Schedule(ctx context.Context, a *service.Actor, id int64) (View, error) {
	return s.act(ctx, a, id, func(tx *gorm.DB, m *model.Meeting, now time.Time) error {
		if m.State != model.MeetingDraft {
			return stateConflict(m, "发出通知")
		}
		if err := checkWhen(m.StartsAt, m.EndsAt, now); err != nil {
			return err
		}
		var groups, people int64
		if err := tx.Model(&model.MeetingGroup{}).Where("meeting_id = ?", m.ID).Count(&groups).Error; err != nil {
			return err
		}
		if err := tx.Model(&model.MeetingParticipant{}).Where("meeting_id = ?", m.ID).Count(&people).Error; err != nil {
			return err
		}
		if groups == 0 && people == 0 {
			return errNoInvitees
		}
		if err := s.expand(ctx, tx, m, now); err != nil {
			return err
		}
		if people == 0 {
			if err := tx.Model(&model.MeetingParticipant{}).Where("meeting_id = ?", m.ID).Count(&people).Error; err != nil {
				return err
			}
			if people == 0 {
				return errNobody
			}
		}
		if err := transition(ctx, tx, m, model.MeetingScheduled, map[string]any{"scheduled_at": now}, now, "发出通知"); err != nil {
			return err
		}
		evs := append([]message.Event{s.notice(m, noticeScheduled, "")}, s.reminders(m, now)...)
		return s.tell(ctx, tx, m.ID, 0, evs...)
	})
}

// Hold opens a scheduled meeting (from HoldLead before its start): the
// reminders still waiting are withdrawn and a sign-in code is made, valid
// until the meeting's end.
func (s *Service) Hold(ctx context.Context, a *service.Actor, id int64) (View, error) {
	return s.act(ctx, a, id, func(tx *gorm.DB, m *model.Meeting, now time.Time) error {
		if m.State != model.MeetingScheduled {
			return stateConflict(m, "开始会议")
		}
		if now.Before(m.StartsAt.Add(-s.opts.HoldLead)) {
			return errTooEarly
		}
		code, err := newCode()
		if err != nil {
			return err
		}
		if err := transition(ctx, tx, m, model.MeetingHeld, map[string]any{
			"held_at": now, "sign_in_code": code, "sign_in_until": m.EndsAt,
		}, now, "开始会议"); err != nil {
			return err
		}
		return s.msgs.CancelScheduled(ctx, tx, cancelKey(m.ID))
	})
}

// Close ends a minuted meeting.
func (s *Service) Close(ctx context.Context, a *service.Actor, id int64) (View, error) {
	return s.act(ctx, a, id, func(tx *gorm.DB, m *model.Meeting, now time.Time) error {
		if m.State != model.MeetingMinuted {
			return stateConflict(m, "结束会议（请先发布会议纪要）")
		}
		return transition(ctx, tx, m, model.MeetingClosed, map[string]any{"closed_at": now, "sign_in_code": ""}, now, "结束会议")
	})
}

// Cancel calls off a draft or scheduled meeting. Participants of a
// scheduled one are told, and its reminders are withdrawn so that none is
// ever sent.
func (s *Service) Cancel(ctx context.Context, a *service.Actor, id int64, reason string) (View, error) {
	reason = strings.TrimSpace(reason)
	if utf8.RuneCountInString(reason) > 200 {
		return View{}, errReason
	}
	return s.act(ctx, a, id, func(tx *gorm.DB, m *model.Meeting, now time.Time) error {
		was := m.State
		if was != model.MeetingDraft && was != model.MeetingScheduled {
			return stateConflict(m, "取消")
		}
		if err := transition(ctx, tx, m, model.MeetingCancelled, map[string]any{
			"cancelled_at": now, "cancel_reason": reason,
		}, now, "取消"); err != nil {
			return err
		}
		if was == model.MeetingDraft {
			return nil
		}
		if err := s.msgs.CancelScheduled(ctx, tx, cancelKey(m.ID)); err != nil {
			return err
		}
		return s.tell(ctx, tx, m.ID, 0, s.notice(m, noticeCancelled, reason))
	})
}

// RotateCode replaces the sign-in code of a held meeting (a code that
// leaked beyond the venue).
func (s *Service) RotateCode(ctx context.Context, a *service.Actor, id int64) (View, error) {
	return s.act(ctx, a, id, func(tx *gorm.DB, m *model.Meeting, now time.Time) error {
		if m.State != model.MeetingHeld {
			return stateConflict(m, "更换签到码")
		}
		code, err := newCode()
		if err != nil {
			return err
		}
		return tx.Model(&model.Meeting{}).Where("id = ?", m.ID).
			Updates(map[string]any{"sign_in_code": code, "updated_at": now}).Error
	})
}

// CodeLength is the number of digits of a sign-in code.
const CodeLength = 6

// newCode is a random sign-in code of CodeLength digits.
func newCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("sign-in code: %w", err)
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}
