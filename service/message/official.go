package message

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/wechat"
)

// The service account (公众号) channel. Staff who follow the account can
// take their pushes there as template messages: no per-push consent, and
// the account's chat is where many of them already read work notices. The
// account knows people by its own openid; a follow event gives it, the
// account's user API gives the unionid, and the unionid ties it to our
// user (who logged in to the mini-program with the same unionid). The
// outbox row stays one per (event, user): delivery picks the channel.

// OfficialAccount is what the service needs of the service account.
// *wechat.OfficialAccount and *wechat.Sandbox implement it; errors of the
// real client hold a *wechat.APIError.
type OfficialAccount interface {
	UserInfo(ctx context.Context, openID string) (wechat.OAUser, error)
	SendTemplate(ctx context.Context, m wechat.TemplateMessage) error
}

// OATemplate is the service account's template message one kind is
// pushed as.
type OATemplate struct {
	// ID is the template id from the account's 模板消息 console; empty
	// means the kind always goes to the mini-program.
	ID string `yaml:"template_id" json:"template_id"`
	// Page of the mini-program the push opens ({order_id} and {field}
	// replaced); empty means the mini-program template's page. The
	// mini-program (Config.AppID) must be linked to the account.
	Page string `yaml:"page" json:"page"`
	// URL opens instead when no mini-program AppID is configured.
	URL string `yaml:"url" json:"url"`
	// Fields maps the template's keys to event fields: typed keys (thing1,
	// time2 …) of the templates WeChat issues now, or the old first,
	// keyword1 …, remark (cut like thing: 20 characters).
	Fields map[string]string `yaml:"fields" json:"fields"`
}

// DefaultOATemplates are the field mappings of the kinds for the
// service account, without template ids.
func DefaultOATemplates() map[string]OATemplate {
	return map[string]OATemplate{
		KindNewReport: {Fields: map[string]string{ // 新工单提醒
			"character_string1": FieldNumber, "thing2": FieldCategory, "thing3": FieldPlace, "time4": FieldTime,
		}},
		KindProgress: {Fields: map[string]string{ // 工单进度通知
			"character_string1": FieldNumber, "phrase2": FieldState, "thing3": FieldCategory, "time4": FieldTime,
		}},
		KindRating: {Fields: map[string]string{ // 满意度评价提醒
			"character_string1": FieldNumber, "thing2": FieldCategory, "time3": FieldTime,
		}},
		KindMeeting: {Fields: map[string]string{ // 会议通知
			"thing1": FieldMeetingTitle, "time2": FieldMeetingTime, "thing3": FieldMeetingPlace,
		}},
		KindNotice: {Fields: map[string]string{ // 公告通知
			"thing1": FieldTitle, "thing2": FieldPublisher, "time3": FieldTime,
		}},
		KindEvaluation: {Fields: map[string]string{ // 考核结果通知
			"thing1": FieldTitle, "phrase2": FieldState, "time3": FieldTime,
		}},
	}
}

func (t OATemplate) validate(kind string) error {
	if len(t.ID) > 64 {
		return &TemplateError{OA: true, Kind: kind, Reason: "template id longer than 64 characters"}
	}
	return checkFields(true, kind, t.Fields)
}

func (c Config) validateOA() error {
	if c.OAAESKey != "" && len(c.OAAESKey) != 43 {
		return fmt.Errorf("message: the official account's EncodingAESKey must be 43 characters")
	}
	if c.OAAESKey != "" && c.OAAppID == "" {
		return fmt.Errorf("message: the official account's EncodingAESKey needs its AppID")
	}
	return nil
}

// render fills the template like a subscribe message (same limits per
// typed key; other keys are cut like thing) and picks the page.
func (t OATemplate) render(p payload, orderID int64, mpPage string) (map[string]string, string) {
	page := t.Page
	if page == "" {
		page = mpPage
	}
	return Template{Page: page, Fields: t.Fields}.render(p, orderID)
}

const codeNotFollowing = 43004 // the user does not follow the service account

// oaMessage is the template message row should go out as, nil when it
// goes to the mini-program: the channel is off, the kind has no template
// for the account, the user did not choose the account or does not
// follow it (linked).
func (s *Service) oaMessage(ctx context.Context, tx *gorm.DB, row model.Outbox, pl payload) (*wechat.TemplateMessage, error) {
	tpl := s.cfg.OATemplates[row.Kind]
	// An urgent row has its own channel (channel.go).
	if row.Priority > 0 || !s.cfg.OAEnabled || tpl.ID == "" || s.oa == nil && !s.cfg.Sandbox {
		return nil, nil
	}
	channel, err := preferredChannel(ctx, tx, row.UserID)
	if err != nil || channel != model.ChannelOA {
		return nil, err
	}
	openID, err := linkedOpenID(ctx, tx, row.UserID)
	if err != nil || openID == "" {
		return nil, err
	}
	return s.oaTemplateMessage(row, pl, openID), nil
}

// oaTemplateMessage renders row as the account's template message to openID.
func (s *Service) oaTemplateMessage(row model.Outbox, pl payload, openID string) *wechat.TemplateMessage {
	tpl := s.cfg.OATemplates[row.Kind]
	data, page := tpl.render(pl, row.OrderID, s.cfg.Templates[row.Kind].Page)
	m := &wechat.TemplateMessage{ToUser: openID, TemplateID: tpl.ID, Data: data,
		// WeChat drops a repeat within minutes: a resent unknown row
		// (ResendUnknown) reaches the user once.
		ClientMsgID: "outbox_" + strconv.FormatInt(row.ID, 10)}
	if s.cfg.AppID != "" {
		m.MiniprogramAppID, m.PagePath = s.cfg.AppID, page
	} else {
		m.URL = tpl.URL
	}
	return m
}

func preferredChannel(ctx context.Context, tx *gorm.DB, userID int64) (string, error) {
	p, err := model.PushPreferenceOf(ctx, tx, userID)
	switch {
	case errors.Is(err, model.ErrNotFound):
		return model.ChannelMP, nil
	case err != nil:
		return "", fmt.Errorf("read push preference: %w", err)
	}
	return p.Channel, nil
}

// linkedOpenID is the service account's openid of a user who follows it
// ("" if none). Someone who followed before their first login to the
// mini-program (so before we knew their unionid) is linked here.
func linkedOpenID(ctx context.Context, tx *gorm.DB, userID int64) (string, error) {
	f, err := model.FollowerOfUser(ctx, tx, userID)
	if err == nil {
		return f.OpenID, nil
	}
	if !errors.Is(err, model.ErrNotFound) {
		return "", fmt.Errorf("read follower: %w", err)
	}
	unionID, err := model.UnionIDOf(ctx, tx, userID)
	if errors.Is(err, model.ErrNotFound) || err == nil && unionID == "" {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	f, err = model.UnlinkedFollower(ctx, tx, unionID)
	if errors.Is(err, model.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("find follower by unionid: %w", err)
	}
	_, err = model.LinkFollower(ctx, tx, f.ID, userID)
	if errors.Is(err, model.ErrDuplicate) {
		return "", nil // linked to this user meanwhile by another path; the next push finds it
	}
	if err != nil {
		return "", fmt.Errorf("link follower: %w", err)
	}
	return f.OpenID, nil
}

// Errors of the service account's callback and the channel choice.
var (
	ErrOACallbackOff = service.NotFound("oa_callback_off", "未开启公众号消息推送")
	ErrOAOff         = service.Unprocessable("oa_off", "未开启公众号模板消息推送")
	ErrOAStaffOnly   = service.Forbidden("oa_staff_only", "仅工作人员可选择在公众号接收推送")
	ErrBadChannel    = service.Invalid("bad_channel", "推送渠道须为 mp（小程序）或 oa（公众号）")
	errOAUnavailable = service.Unavailable("oa_unavailable", "未配置公众号接口，暂时无法处理关注事件")
)

func (s *Service) oaCallbackOn() bool { return s.cfg.OAEnabled && s.cfg.OAToken != "" }

// VerifyOACallback answers WeChat's GET check of the service account's
// server URL: the echo string when the signature is the account token's.
func (s *Service) VerifyOACallback(signature, timestamp, nonce, echostr string) (string, error) {
	if !s.oaCallbackOn() {
		return "", ErrOACallbackOff
	}
	if err := s.verify(s.cfg.OAToken, signature, timestamp, nonce); err != nil {
		return "", err
	}
	return echostr, nil
}

// HandleOACallback verifies one push of the service account's events
// (XML, plaintext or AES) and applies follow events: subscribe asks the
// account for the follower's unionid and links them to our user with it,
// unsubscribe unlinks. Other messages and events are ignored; a push
// WeChat repeats is applied once, and a follow event older than the last
// applied changes nothing.
func (s *Service) HandleOACallback(ctx context.Context, p Push) error {
	if !s.oaCallbackOn() {
		return ErrOACallbackOff
	}
	raw, err := s.open(p, s.cfg.OAToken, s.cfg.OAAppID, s.cfg.OAAESKey)
	if err != nil {
		return err
	}
	ev, err := parsePush(p.XML, raw)
	if err != nil {
		return ErrBadPush.Wrap(err)
	}
	if ev.MsgType != "event" || ev.FromUserName == "" {
		return nil
	}
	at, _ := strconv.ParseInt(string(ev.CreateTime), 10, 64)
	key := service.CutRunes("oa:"+ev.FromUserName+":"+string(ev.CreateTime)+":"+ev.Event, 128)
	var unionID string
	switch ev.Event {
	case "subscribe":
		if s.oa == nil {
			return errOAUnavailable
		}
		// A repeated or outdated event needs no question to WeChat (the
		// transaction below decides for good).
		if old, err := s.oaEventApplied(ctx, key, ev.FromUserName, at); err != nil || old {
			return err
		}
		// Asked before the transaction: no row is locked while WeChat
		// answers. A failure leaves nothing applied, so WeChat's retry of
		// the push starts over.
		info, err := s.oa.UserInfo(ctx, ev.FromUserName)
		if err != nil {
			return err
		}
		unionID = info.UnionID
	case "unsubscribe":
	case "TEMPLATESENDJOBFINISH":
		if ev.Status != "" && ev.Status != "success" {
			s.log.WarnContext(ctx, "template message not delivered", "status", ev.Status)
			s.metrics.add(func(c *counters) { c.failed["oa_job_"+service.CutRunes(ev.Status, 24)]++ })
		}
		return nil
	default:
		return nil
	}
	return model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		err := model.InsertCallbackReceipt(ctx, tx, key)
		if errors.Is(err, model.ErrDuplicate) {
			return nil
		}
		if err != nil {
			return err
		}
		return applyFollow(ctx, tx, ev.FromUserName, unionID, ev.Event == "subscribe", at)
	})
}

// oaEventApplied reports whether a follow event was applied already or is
// older than the last one applied for openID.
func (s *Service) oaEventApplied(ctx context.Context, key, openID string, at int64) (bool, error) {
	if seen, err := model.HasCallbackReceipt(ctx, s.db, key); err != nil || seen {
		return seen, err
	}
	f, err := model.FollowerByOpenID(ctx, s.db, openID)
	if errors.Is(err, model.ErrNotFound) {
		return false, nil
	}
	return err == nil && at < f.EventAt, err
}

// applyFollow records a follow (with the unionid the account gave, if
// any) or an unfollow of openID at event time at.
func applyFollow(ctx context.Context, tx *gorm.DB, openID, unionID string, following bool, at int64) error {
	f, err := model.LockFollower(ctx, tx, openID)
	if err != nil {
		return fmt.Errorf("lock follower: %w", err)
	}
	if at < f.EventAt {
		return nil // WeChat delivered an older event late
	}
	f.Following, f.EventAt, f.UserID = following, at, nil
	if unionID != "" {
		f.UnionID = unionID
	}
	if following && f.UnionID != "" {
		userID, err := model.UserIDByUnionID(ctx, tx, f.UnionID)
		switch {
		case err == nil:
			// One follower per user: an older openid of theirs (another
			// account's, say) lets go.
			if err := model.UnlinkUserFollowers(ctx, tx, userID, f.ID); err != nil {
				return err
			}
			f.UserID = &userID
		case !errors.Is(err, model.ErrNotFound):
			return err
		}
	}
	return model.SaveFollow(ctx, tx, f)
}

// PushChannel is where a user's pushes go.
type PushChannel struct {
	Channel   string // what the user chose: mp or oa
	OAEnabled bool   // the service account channel is on
	// OALinked: the user follows the service account and we know their
	// openid there. Until then pushes go to the mini-program whatever
	// the choice.
	OALinked bool
}

// PushChannel tells the actor where their pushes go.
func (s *Service) PushChannel(ctx context.Context, a *service.Actor) (PushChannel, error) {
	if a == nil {
		return PushChannel{}, service.ErrUnauthenticated
	}
	var out PushChannel
	err := model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		var err error
		out, err = s.pushChannel(ctx, tx, a.UserID)
		return err
	})
	return out, err
}

func (s *Service) pushChannel(ctx context.Context, tx *gorm.DB, userID int64) (PushChannel, error) {
	ch, err := preferredChannel(ctx, tx, userID)
	if err != nil {
		return PushChannel{}, err
	}
	out := PushChannel{Channel: ch, OAEnabled: s.cfg.OAEnabled}
	if s.cfg.OAEnabled {
		openID, err := linkedOpenID(ctx, tx, userID)
		if err != nil {
			return PushChannel{}, err
		}
		out.OALinked = openID != ""
	}
	return out, nil
}

// SetPushChannel records where the actor wants pushes: mp (the
// mini-program, for everyone) or oa (the service account, for staff when
// the channel is on). Choosing oa before following the account is fine:
// pushes switch over once the follow is linked.
func (s *Service) SetPushChannel(ctx context.Context, a *service.Actor, channel string) (PushChannel, error) {
	if a == nil {
		return PushChannel{}, service.ErrUnauthenticated
	}
	switch channel {
	case model.ChannelMP:
	case model.ChannelOA:
		if !s.cfg.OAEnabled {
			return PushChannel{}, ErrOAOff
		}
		if len(a.Grants) == 0 { // residents hold no grant
			return PushChannel{}, ErrOAStaffOnly
		}
	default:
		return PushChannel{}, ErrBadChannel
	}
	var out PushChannel
	err := model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		if err := model.SetPushPreference(ctx, tx, a.UserID, channel); err != nil {
			return fmt.Errorf("set push preference: %w", err)
		}
		var err error
		out, err = s.pushChannel(ctx, tx, a.UserID)
		return err
	})
	return out, err
}
