package meeting

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// MinutesInput is one version of a meeting's minutes. Correction says
// what a later version corrects; the first version has none.
type MinutesInput struct {
	Text        string
	Attachments []model.MeetingAttachment
	Correction  string
}

var (
	errMinutesText  = service.Invalid("bad_minutes", "会议纪要须为 1 到 10000 个字")
	errCorrection   = service.Invalid("bad_correction", "更正说明不能超过 200 个字")
	errNeedFix      = service.Invalid("correction_required", "纪要已发布，不能修改；请填写更正说明，发布更正版本")
	errFirstFix     = service.Invalid("correction_not_allowed", "首次发布纪要无需填写更正说明")
	errMinutesState = service.Unprocessable("minutes_not_allowed", "只有已召开的会议可以发布纪要；已结束或已取消的会议不能再发布")
)

// PublishMinutes records a version of the minutes and tells every
// participant. The first version moves a held meeting to minuted; a
// published version is never edited: a correction (with what it corrects)
// is the next version, and both are kept.
func (s *Service) PublishMinutes(ctx context.Context, a *service.Actor, id int64, in MinutesInput) (model.MeetingMinutes, error) {
	in.Text, in.Correction = strings.TrimSpace(in.Text), strings.TrimSpace(in.Correction)
	if n := utf8.RuneCountInString(in.Text); n == 0 || n > 10000 {
		return model.MeetingMinutes{}, errMinutesText
	}
	if utf8.RuneCountInString(in.Correction) > 200 {
		return model.MeetingMinutes{}, errCorrection
	}
	atts, err := checkAttachments(in.Attachments)
	if err != nil {
		return model.MeetingMinutes{}, err
	}
	if _, err := s.manage(ctx, a, id); err != nil {
		return model.MeetingMinutes{}, err
	}
	if err := s.checkPhotos(ctx, a.UserID, atts); err != nil {
		return model.MeetingMinutes{}, err
	}
	var mm model.MeetingMinutes
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		m, err := lock(ctx, tx, id)
		if err != nil {
			return err
		}
		now := s.clock.Now().UTC()
		last, err := model.LastMinutesVersion(ctx, tx, id)
		if err != nil {
			return err
		}
		switch m.State {
		case model.MeetingHeld:
			if in.Correction != "" {
				return errFirstFix
			}
			if err := transition(ctx, tx, &m, model.MeetingMinuted, now, "发布纪要", func(next *model.Meeting) {
				next.MinutedAt, next.SignInCode = &now, ""
			}); err != nil {
				return err
			}
		case model.MeetingMinuted:
			if in.Correction == "" {
				return errNeedFix
			}
		default:
			return errMinutesState.WithDetail(map[string]any{"state": m.State})
		}
		mm = model.MeetingMinutes{MeetingID: id, Version: last + 1, Text: in.Text, Attachments: atts,
			Correction: in.Correction, AuthorID: a.UserID, Base: model.Base{CreatedAt: now, UpdatedAt: now}}
		if err := model.Create(ctx, tx, &mm); err != nil {
			return fmt.Errorf("record minutes: %w", err)
		}
		title, short := "会议纪要："+m.Title, "会议纪要已发布"
		body := fmt.Sprintf("【%s】%s（%s）的会议纪要已发布，请在小程序中查看。", kindWords[m.Kind], m.Title, when(&m))
		if mm.Version > 1 {
			title, short = "会议纪要更正："+m.Title, "会议纪要已更正"
			body = fmt.Sprintf("【%s】%s 的会议纪要发布了第 %d 版更正：%s", kindWords[m.Kind], m.Title, mm.Version, mm.Correction)
		}
		ev := event(&m, EventMinutes, fmt.Sprintf("meeting:%d:minutes:%d", id, mm.Version), title, body, short)
		return s.tell(ctx, tx, id, 0, ev)
	})
	if err != nil {
		return model.MeetingMinutes{}, err
	}
	return mm, nil
}

// Minutes lists every published version of a meeting's minutes, oldest
// first, for its managers and participants.
func (s *Service) Minutes(ctx context.Context, a *service.Actor, id int64) ([]model.MeetingMinutes, error) {
	m, err := load(ctx, s.db, id)
	if err != nil {
		return nil, err
	}
	if _, err := s.access(ctx, s.db, a, &m); err != nil {
		return nil, err
	}
	return model.MinutesOf(ctx, s.db, id)
}
