package message

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// Scenes of WeChat's text check.
const (
	SceneProfile = 1 // 资料
	SceneComment = 2 // 评论: ratings, comments
	SceneForum   = 3 // 论坛: order descriptions, wishes
	SceneLog     = 4 // 社交日志
)

// ErrRiskyContent refuses text WeChat's check calls risky.
var ErrRiskyContent = service.Unprocessable("content_risky", "内容含有违规或敏感信息，请修改后再提交")

// Verdict is what the check decided about a text that may be stored.
type Verdict struct {
	// State is pass, review (store it, flagged for the community) or
	// pending (WeChat could not be asked: store it and let RecordCheck
	// queue a later check).
	State string
	Label string // WeChat's category in Chinese (正常, 广告 …), when known
}

// CheckText runs WeChat's text check on what userID wrote, before it is
// stored. Risky text is refused with ErrRiskyContent. When WeChat cannot
// be asked the verdict is pending, not an error: the caller stores the
// text and passes the verdict to RecordCheck in the same transaction.
func (s *Service) CheckText(ctx context.Context, userID int64, scene int, text string) (Verdict, error) {
	if scene < SceneProfile || scene > SceneLog {
		return Verdict{}, fmt.Errorf("message: check scene %d is not 1..4", scene)
	}
	if strings.TrimSpace(text) == "" {
		return Verdict{State: model.CheckPass}, nil
	}
	v, err := s.askWeChat(ctx, s.db.WithContext(ctx), userID, scene, text)
	if err != nil {
		slog.WarnContext(ctx, "text check deferred", "user_id", userID, "err", err)
		return Verdict{State: model.CheckPending}, nil
	}
	if v.State == model.CheckRisky {
		return v, ErrRiskyContent.WithDetail(map[string]string{"label": v.Label})
	}
	return v, nil
}

func (s *Service) askWeChat(ctx context.Context, db *gorm.DB, userID int64, scene int, text string) (Verdict, error) {
	if s.wx == nil {
		return Verdict{}, errors.New("no WeChat client")
	}
	var u model.User
	if err := db.Select("id", "open_id").Where("id = ?", userID).Take(&u).Error; err != nil {
		return Verdict{}, fmt.Errorf("user %d: %w", userID, err)
	}
	if u.OpenID == nil || *u.OpenID == "" {
		return Verdict{}, fmt.Errorf("user %d has no openid", userID)
	}
	r, err := s.wx.MsgCheck(ctx, *u.OpenID, scene, text)
	if err != nil {
		return Verdict{}, err
	}
	switch r.Suggest {
	case model.CheckPass, model.CheckReview, model.CheckRisky:
		return Verdict{State: r.Suggest, Label: r.Label}, nil
	}
	return Verdict{State: model.CheckReview, Label: r.Label}, nil
}

// CheckRecord names text that was stored: what it belongs to (e.g.
// order:12:description), who wrote it, where it is.
type CheckRecord struct {
	Subject string
	UserID  int64
	Scene   int
	Text    string
	model.Ancestry
}

// RecordCheck keeps, inside the caller's transaction, a verdict that was
// not a clean pass: review verdicts are flagged for the community, pending
// ones are queued for the worker to check again.
func (s *Service) RecordCheck(ctx context.Context, tx *gorm.DB, rec CheckRecord, v Verdict) error {
	if v.State == model.CheckPass {
		return nil
	}
	if v.State != model.CheckReview && v.State != model.CheckPending {
		return fmt.Errorf("message: cannot record a %q verdict", v.State)
	}
	if rec.Subject == "" {
		return fmt.Errorf("message: check record without a subject")
	}
	now := s.clock.Now().UTC()
	row := model.ContentCheck{
		Subject: service.CutRunes(rec.Subject, 64), UserID: rec.UserID, Scene: rec.Scene, Text: rec.Text,
		State: v.State, Label: service.CutRunes(v.Label, 32), DueAt: now.Add(s.cfg.RetryBase), Ancestry: rec.Ancestry,
	}
	if err := tx.WithContext(ctx).Create(&row).Error; err != nil {
		return fmt.Errorf("message: record check: %w", err)
	}
	return nil
}

// HiddenText stands in for a stored text that a late check found risky.
const HiddenText = "（该内容未通过内容安全审核，已隐藏）"

// LateVerdict applies, inside tx, a verdict reached after a text was
// stored (review or risky) to the thing the text belongs to.
type LateVerdict func(ctx context.Context, tx *gorm.DB, subject, state string) error

// OnLateVerdict registers what to do with late verdicts of the subjects
// of one kind (the part of CheckRecord.Subject before the first colon).
// Call it while wiring, before the worker runs.
func (s *Service) OnLateVerdict(kind string, h LateVerdict) {
	if s.lateVerdicts == nil {
		s.lateVerdicts = map[string]LateVerdict{}
	}
	s.lateVerdicts[kind] = h
}

// RecheckOnce asks WeChat again about due pending texts and says how many
// it settled. Text WeChat still cannot check after CheckMaxAttempts goes
// to review: it is never accepted unseen.
func (s *Service) RecheckOnce(ctx context.Context) (int, error) {
	now := s.clock.Now().UTC()
	var rows []model.ContentCheck
	if err := s.db.WithContext(ctx).Where("state = ? AND due_at <= ?", model.CheckPending, now).
		Order("due_at, id").Limit(s.cfg.BatchSize).Find(&rows).Error; err != nil {
		return 0, fmt.Errorf("find pending checks: %w", err)
	}
	settled := 0
	for _, r := range rows {
		// Claim by compare-and-set on the attempt count so that two
		// workers do not both ask.
		res := s.db.WithContext(ctx).Model(&model.ContentCheck{}).
			Where("id = ? AND state = ? AND attempts = ?", r.ID, model.CheckPending, r.Attempts).
			Updates(map[string]any{"attempts": r.Attempts + 1, "due_at": now.Add(s.cfg.Lease)})
		if res.Error != nil {
			return settled, res.Error
		}
		if res.RowsAffected == 0 {
			continue
		}
		v, err := s.askWeChat(ctx, s.db.WithContext(ctx), r.UserID, r.Scene, r.Text)
		set := map[string]any{}
		switch {
		case err == nil:
			set["state"], set["label"], set["last_error"] = v.State, service.CutRunes(v.Label, 32), ""
			if v.State == model.CheckRisky {
				slog.WarnContext(ctx, "stored text found risky on re-check", "check_id", r.ID, "subject", r.Subject)
			}
		case r.Attempts+1 >= s.cfg.CheckMaxAttempts:
			set["state"], set["last_error"] = model.CheckReview, service.CutRunes("微信多次无法检查，转人工审核："+err.Error(), 200)
		default:
			set["due_at"], set["last_error"] = now.Add(s.backoff(r.Attempts+1)), service.CutRunes(err.Error(), 200)
		}
		err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
			res := tx.Model(&model.ContentCheck{}).Where("id = ? AND state = ?", r.ID, model.CheckPending).Updates(set)
			if res.Error != nil || res.RowsAffected == 0 {
				return res.Error
			}
			// A late verdict that is not a pass goes to the capability
			// whose text it is, in the same transaction.
			state, _ := set["state"].(string)
			kind, _, _ := strings.Cut(r.Subject, ":")
			if h := s.lateVerdicts[kind]; h != nil && (state == model.CheckReview || state == model.CheckRisky) {
				return h(ctx, tx, r.Subject, state)
			}
			return nil
		})
		if err != nil {
			return settled, err
		}
		if _, ok := set["state"]; ok {
			settled++
		}
	}
	return settled, nil
}
