package meeting

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service/calendar"
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

// cancelKey withdraws every reminder of a meeting still waiting.
func cancelKey(meetingID int64) string { return fmt.Sprintf("meeting:%d", meetingID) }

var kindWords = map[string]string{
	model.MeetingJoint: "联席会议", model.MeetingTripartite: "三方协调议事", model.MeetingTalk: "民情恳谈",
	model.MeetingAssembly: "业主大会", model.MeetingOther: "会议",
}

// when is the meeting's time in Beijing words: 11月25日 14:30–16:00.
func when(m *model.Meeting) string {
	s, e := m.StartsAt.In(calendar.Beijing), m.EndsAt.In(calendar.Beijing)
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
		rows, err := model.ParticipantsAfter(ctx, tx, meetingID, after, s.opts.BatchSize)
		if err != nil {
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
