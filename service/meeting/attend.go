package meeting

import (
	"context"
	"crypto/subtle"
	"fmt"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/message"
)

var (
	errAnswer         = service.Invalid("bad_answer", "回复只能是 attending（参加）或 declined（不参加）")
	errDeclineReason  = service.Invalid("bad_reason", "不参加时请填写原因（1 到 200 个字）")
	errNotParticipant = service.Forbidden("not_participant", "您不在本次会议的参会名单中")
	errRSVPClosed     = service.Unprocessable("rsvp_closed", "会议已开始、已结束或已取消，不能再回复")
	errCodeFormat     = service.Invalid("bad_code", "签到码为 6 位数字")
	errCodeExpired    = service.Unprocessable("code_expired", "签到码已失效：会议不在进行中")
	errCodeWrong      = service.Unprocessable("wrong_code", "签到码不正确")
	errParticipant404 = service.NotFound("participant_not_found", "该用户不在参会名单中")
	errSignInClosed   = service.Unprocessable("sign_in_closed", "只有正在召开或刚结束、尚未关闭的会议可以代为签到")
)

// RSVP records a participant's answer to a scheduled meeting: attending,
// or declined with a reason. The reason passes WeChat's text check.
func (s *Service) RSVP(ctx context.Context, a *service.Actor, id int64, answer, reason string) (model.MeetingParticipant, error) {
	reason = strings.TrimSpace(reason)
	switch answer {
	case model.RSVPAttending:
		reason = ""
	case model.RSVPDeclined:
		if n := utf8.RuneCountInString(reason); n == 0 || n > 200 {
			return model.MeetingParticipant{}, errDeclineReason
		}
	default:
		return model.MeetingParticipant{}, errAnswer
	}
	m, me, err := s.asParticipant(ctx, a, id)
	if err != nil {
		return model.MeetingParticipant{}, err
	}
	if m.State != model.MeetingScheduled {
		return model.MeetingParticipant{}, errRSVPClosed
	}
	verdict := message.Verdict{State: model.CheckPass}
	if reason != "" {
		if verdict, err = s.msgs.CheckText(ctx, a.UserID, message.SceneComment, reason); err != nil {
			return model.MeetingParticipant{}, err
		}
	}
	now := s.clock.Now().UTC()
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		if err := model.AnswerRSVP(ctx, tx, me.ID, answer, reason, now); err != nil {
			return err
		}
		return s.msgs.RecordCheck(ctx, tx, message.CheckRecord{Subject: fmt.Sprintf("meeting:%d:rsvp:%d", m.ID, a.UserID),
			UserID: a.UserID, Scene: message.SceneComment, Text: reason, Ancestry: m.Ancestry}, verdict)
	})
	if err != nil {
		return model.MeetingParticipant{}, err
	}
	me.RSVP, me.DeclineReason, me.RespondedAt = answer, reason, &now
	return *me, nil
}

// asParticipant loads a meeting the actor may see and their own row;
// managers who are not on the list are refused.
func (s *Service) asParticipant(ctx context.Context, a *service.Actor, id int64) (model.Meeting, *model.MeetingParticipant, error) {
	m, err := load(ctx, s.db, id)
	if err != nil {
		return m, nil, err
	}
	acc, err := s.access(ctx, s.db, a, &m)
	if err != nil {
		return m, nil, err
	}
	if acc.me == nil || m.State == model.MeetingDraft {
		return m, nil, errNotParticipant
	}
	return m, acc.me, nil
}

// SignIn signs the actor in with the code shown at the venue, while the
// meeting is held and before its end. Attempts are limited per
// participant and meeting (SignInTries per SignInWindow): six digits do
// not survive unlimited guessing.
func (s *Service) SignIn(ctx context.Context, a *service.Actor, id int64, code string) (model.MeetingParticipant, error) {
	code = strings.TrimSpace(code)
	if len(code) != CodeLength || strings.Trim(code, "0123456789") != "" {
		return model.MeetingParticipant{}, errCodeFormat
	}
	m, me, err := s.asParticipant(ctx, a, id)
	if err != nil {
		return model.MeetingParticipant{}, err
	}
	if me.SignedInAt != nil {
		return *me, nil
	}
	now := s.clock.Now().UTC()
	if m.State != model.MeetingHeld || m.SignInCode == "" || m.SignInUntil == nil || !now.Before(*m.SignInUntil) {
		return model.MeetingParticipant{}, errCodeExpired
	}
	ok, wait, err := s.limit.Allow(ctx, fmt.Sprintf("meeting:signin:%d:%d", m.ID, a.UserID), s.opts.SignInTries, s.opts.SignInWindow)
	if err != nil {
		return model.MeetingParticipant{}, err
	}
	if !ok {
		return model.MeetingParticipant{}, service.RateLimited("sign_in_rate_limited", "签到码输错次数过多，请稍后再试", wait)
	}
	if subtle.ConstantTimeCompare([]byte(code), []byte(m.SignInCode)) != 1 {
		return model.MeetingParticipant{}, errCodeWrong
	}
	return s.signIn(ctx, me, a.UserID)
}

// SignInFor lets a manager sign a participant in (someone without a
// phone), while the meeting is held or before it is closed.
func (s *Service) SignInFor(ctx context.Context, a *service.Actor, id, userID int64) (model.MeetingParticipant, error) {
	m, err := s.manage(ctx, a, id)
	if err != nil {
		return model.MeetingParticipant{}, err
	}
	if m.State != model.MeetingHeld && m.State != model.MeetingMinuted {
		return model.MeetingParticipant{}, errSignInClosed
	}
	p, err := participant(ctx, s.db, id, userID)
	if err != nil {
		return model.MeetingParticipant{}, err
	}
	if p == nil {
		return model.MeetingParticipant{}, errParticipant404
	}
	if p.SignedInAt != nil {
		return *p, nil
	}
	return s.signIn(ctx, p, a.UserID)
}

// signIn marks p signed in by who, once.
func (s *Service) signIn(ctx context.Context, p *model.MeetingParticipant, by int64) (model.MeetingParticipant, error) {
	now := s.clock.Now().UTC()
	n, err := model.SignInParticipant(ctx, s.db, p.ID, by, now)
	if err != nil {
		return model.MeetingParticipant{}, err
	}
	if n == 0 { // signed in meanwhile
		cur, err := participant(ctx, s.db, p.MeetingID, p.UserID)
		if err != nil || cur == nil {
			return model.MeetingParticipant{}, err
		}
		return *cur, nil
	}
	p.SignedInAt, p.SignedInBy = &now, by
	return *p, nil
}

// ApplyLateVerdict takes, inside tx, a verdict WeChat's text check reached
// after a decline reason was stored (WeChat could not be asked then): a
// risky reason is replaced by a notice; one for review stays, and the
// community sees the verdict among its content checks.
func (s *Service) ApplyLateVerdict(ctx context.Context, tx *gorm.DB, subject, state string) error {
	if state != model.CheckRisky {
		return nil
	}
	var meetingID, userID int64
	if _, err := fmt.Sscanf(subject, "meeting:%d:rsvp:%d", &meetingID, &userID); err != nil {
		return nil
	}
	return model.SetDeclineReason(ctx, tx, meetingID, userID, message.HiddenText)
}
