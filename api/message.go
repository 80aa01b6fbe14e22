package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"redprop/model"
	"redprop/service/message"
)

// messageRoutes registers the inbox, subscriptions, the push channel,
// WeChat's push callbacks of the mini-program and the service account
// (public: WeChat signs them) and the admin views of pushes.
func (h *handlers) messageRoutes(v1, authed *gin.RouterGroup) {
	authed.GET("/me/messages", h.listMessages)
	authed.GET("/me/messages/unread-count", h.unreadMessages)
	authed.POST("/me/messages/read-all", h.readAllMessages)
	authed.POST("/me/messages/:id/read", h.readMessage)
	authed.GET("/me/subscriptions", h.mySubscriptions)
	authed.POST("/me/subscriptions", h.reportSubscriptions)
	authed.GET("/me/push-channel", h.myPushChannel)
	authed.PUT("/me/push-channel", h.setPushChannel)

	authed.GET("/admin/pushes", h.sandboxPushes)
	authed.GET("/admin/outbox", h.adminOutbox)
	authed.GET("/admin/content-checks", h.contentChecks)
	authed.GET("/admin/metrics/messages", h.messageMetrics)

	v1.GET("/wechat/push", h.wechatPushCheck)
	v1.POST("/wechat/push", h.wechatPush)
	v1.GET("/wechat/oa", h.oaPushCheck)
	v1.POST("/wechat/oa", h.oaPush)
}

type messageResponse struct {
	ID        int64   `json:"id"`
	Kind      string  `json:"kind"`
	Event     string  `json:"event"`
	Title     string  `json:"title"`
	Body      string  `json:"body"`
	OrderID   int64   `json:"order_id,omitempty"`
	Read      bool    `json:"read"`
	ReadAt    *string `json:"read_at"`
	CreatedAt string  `json:"created_at"`
}

func newMessageResponse(m model.Message) messageResponse {
	return messageResponse{ID: m.ID, Kind: m.Kind, Event: m.Event, Title: m.Title, Body: m.Body, OrderID: m.OrderID,
		Read: m.ReadAt != nil, ReadAt: tsp(m.ReadAt), CreatedAt: ts(m.CreatedAt)}
}

func (h *handlers) listMessages(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	unread, ok := queryBool(c, "unread")
	if !ok {
		return
	}
	res, err := h.Message.Inbox(c.Request.Context(), actor(c), unread != nil && *unread, p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, func(m model.Message) int64 { return m.ID }, newMessageResponse))
}

func (h *handlers) unreadMessages(c *gin.Context) {
	n, err := h.Message.UnreadCount(c.Request.Context(), actor(c))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"unread": n})
}

func (h *handlers) readMessage(c *gin.Context) {
	byID(c, h.Message.MarkRead, newMessageResponse)
}

func (h *handlers) readAllMessages(c *gin.Context) {
	n, err := h.Message.MarkAllRead(c.Request.Context(), actor(c))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"marked": n})
}

type subscriptionResponse struct {
	Kind       string `json:"kind"`
	TemplateID string `json:"template_id"`
	LongTerm   bool   `json:"long_term"`
	Remaining  int    `json:"remaining"`
	Off        bool   `json:"off"`
	Ask        bool   `json:"ask"`
}

type subscriptionsResponse struct {
	Items []subscriptionResponse `json:"items"`
	// Ask lists the template ids to pass to wx.requestSubscribeMessage
	// (at most three per call).
	Ask []string `json:"ask"`
}

func newSubscriptionsResponse(subs []message.Subscription) subscriptionsResponse {
	out := subscriptionsResponse{Items: make([]subscriptionResponse, 0, len(subs)), Ask: []string{}}
	for _, s := range subs {
		out.Items = append(out.Items, subscriptionResponse{Kind: s.Kind, TemplateID: s.TemplateID, LongTerm: s.LongTerm,
			Remaining: s.Remaining, Off: s.Off, Ask: s.Ask})
		if s.Ask {
			out.Ask = append(out.Ask, s.TemplateID)
		}
	}
	return out
}

func (h *handlers) mySubscriptions(c *gin.Context) {
	subs, err := h.Message.Subscriptions(c.Request.Context(), actor(c))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newSubscriptionsResponse(subs))
}

// subscribeReport is what wx.requestSubscribeMessage answered: template
// id → accept | reject | ban | filter.
type subscribeReport struct {
	Results map[string]string `json:"results"`
}

func (h *handlers) reportSubscriptions(c *gin.Context) {
	var req subscribeReport
	if !bindJSON(c, &req) {
		return
	}
	subs, err := h.Message.ReportSubscribe(c.Request.Context(), actor(c), req.Results)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newSubscriptionsResponse(subs))
}

type sandboxPushResponse struct {
	ID               int64             `json:"id"`
	OutboxID         int64             `json:"outbox_id"`
	UserID           int64             `json:"user_id"`
	Channel          string            `json:"channel"`
	ToUser           string            `json:"to_user"`
	Kind             string            `json:"kind"`
	Event            string            `json:"event"`
	TemplateID       string            `json:"template_id"`
	Page             string            `json:"page"`
	MiniprogramState string            `json:"miniprogram_state"`
	Data             map[string]string `json:"data"`
	Note             string            `json:"note"`
	CreatedAt        string            `json:"created_at"`
}

func newSandboxPushResponse(p model.SandboxPush) sandboxPushResponse {
	data := map[string]string{}
	json.Unmarshal([]byte(p.Data), &data)
	return sandboxPushResponse{ID: p.ID, OutboxID: p.OutboxID, UserID: p.UserID, Channel: p.Channel, ToUser: p.ToUser, Kind: p.Kind,
		Event: p.Event, TemplateID: p.TemplateID, Page: p.Page, MiniprogramState: p.MiniprogramState, Data: data,
		Note: p.Note, CreatedAt: ts(p.CreatedAt)}
}

func (h *handlers) sandboxPushes(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	userID, ok := queryID(c, "user_id")
	if !ok {
		return
	}
	res, err := h.Message.SandboxPushes(c.Request.Context(), actor(c), userID, p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, func(p model.SandboxPush) int64 { return p.ID }, newSandboxPushResponse))
}

type outboxResponse struct {
	ID         int64   `json:"id"`
	UserID     int64   `json:"user_id"`
	EventKey   string  `json:"event_key"`
	Channel    string  `json:"channel"`
	Kind       string  `json:"kind"`
	Event      string  `json:"event"`
	OrderID    int64   `json:"order_id,omitempty"`
	State      string  `json:"state"`
	DueAt      string  `json:"due_at"`
	Attempts   int     `json:"attempts"`
	StaleCount int     `json:"stale_count"`
	SkipReason string  `json:"skip_reason,omitempty"`
	LastCode   string  `json:"last_code,omitempty"`
	LastError  string  `json:"last_error,omitempty"`
	TemplateID string  `json:"template_id,omitempty"`
	MsgID      string  `json:"msg_id,omitempty"`
	SentAt     *string `json:"sent_at"`
	CreatedAt  string  `json:"created_at"`
}

func newOutboxResponse(o model.Outbox) outboxResponse {
	return outboxResponse{ID: o.ID, UserID: o.UserID, EventKey: o.EventKey, Channel: o.Channel, Kind: o.Kind, Event: o.Event, OrderID: o.OrderID,
		State: o.State, DueAt: ts(o.DueAt), Attempts: o.Attempts, StaleCount: o.StaleCount, SkipReason: o.SkipReason,
		LastCode: o.LastCode, LastError: o.LastError, TemplateID: o.TemplateID, MsgID: o.MsgID, SentAt: tsp(o.SentAt), CreatedAt: ts(o.CreatedAt)}
}

func (h *handlers) adminOutbox(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	res, err := h.Message.Outbox(c.Request.Context(), actor(c), c.Query("state"), p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, func(o model.Outbox) int64 { return o.ID }, newOutboxResponse))
}

type contentCheckResponse struct {
	ID        int64  `json:"id"`
	Subject   string `json:"subject"`
	UserID    int64  `json:"user_id"`
	Scene     int    `json:"scene"`
	Text      string `json:"text"`
	State     string `json:"state"`
	Label     string `json:"label,omitempty"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error,omitempty"`
	CreatedAt string `json:"created_at"`
}

func newContentCheckResponse(k model.ContentCheck) contentCheckResponse {
	return contentCheckResponse{ID: k.ID, Subject: k.Subject, UserID: k.UserID, Scene: k.Scene, Text: k.Text, State: k.State,
		Label: k.Label, Attempts: k.Attempts, LastError: k.LastError, CreatedAt: ts(k.CreatedAt)}
}

func (h *handlers) contentChecks(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	res, err := h.Message.ContentChecks(c.Request.Context(), actor(c), c.Query("state"), p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, func(k model.ContentCheck) int64 { return k.ID }, newContentCheckResponse))
}

type processCountsResponse struct {
	Sent          int64            `json:"sent"`
	SentByChannel map[string]int64 `json:"sent_by_channel"`
	Skipped       map[string]int64 `json:"skipped"`
	Failed        map[string]int64 `json:"failed"`
	Dead          int64            `json:"dead"`
	Unknown       int64            `json:"unknown"`
	Requeued      int64            `json:"requeued"`
}

type messageMetricsResponse struct {
	Sent          int64                 `json:"sent"`
	SentByChannel map[string]int64      `json:"sent_by_channel"`
	Skipped       map[string]int64      `json:"skipped"`
	Failed        map[string]int64      `json:"failed"`
	Dead          int64                 `json:"dead"`
	Unknown       int64                 `json:"unknown"`
	Stale         int64                 `json:"stale"`
	Waiting       int64                 `json:"waiting"`
	Sending       int64                 `json:"sending"`
	Cancelled     int64                 `json:"cancelled"`
	LagSeconds    float64               `json:"lag_seconds"`
	ChecksPending int64                 `json:"checks_pending"`
	ChecksFlagged int64                 `json:"checks_flagged"`
	Process       processCountsResponse `json:"process"`
}

func (h *handlers) messageMetrics(c *gin.Context) {
	m, err := h.Message.Metrics(c.Request.Context(), actor(c))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, messageMetricsResponse{
		Sent: m.Sent, SentByChannel: m.SentByChannel, Skipped: m.Skipped, Failed: m.Failed, Dead: m.Dead, Unknown: m.Unknown, Stale: m.Stale,
		Waiting: m.Waiting, Sending: m.Sending, Cancelled: m.Cancelled, LagSeconds: m.Lag.Seconds(),
		ChecksPending: m.ChecksPending, ChecksFlagged: m.ChecksFlagged,
		Process: processCountsResponse{Sent: m.Process.Sent, SentByChannel: m.Process.SentByChannel, Skipped: m.Process.Skipped, Failed: m.Process.Failed,
			Dead: m.Process.Dead, Unknown: m.Process.Unknown, Requeued: m.Process.Requeued},
	})
}

// wechatPushCheck answers WeChat's check of the push URL with the echo
// string, as plain text.
func (h *handlers) wechatPushCheck(c *gin.Context) {
	echo, err := h.Message.VerifyCallback(c.Query("signature"), c.Query("timestamp"), c.Query("nonce"), c.Query("echostr"))
	if err != nil {
		fail(c, err)
		return
	}
	c.String(http.StatusOK, "%s", echo)
}

// wechatPush takes one push of WeChat's 消息推送 (JSON or XML, plaintext
// or AES) and answers "success" once it is applied.
func (h *handlers) wechatPush(c *gin.Context) {
	h.callback(c, h.Message.HandleCallback)
}

// callback reads one signed push of WeChat and hands it to apply.
func (h *handlers) callback(c *gin.Context, apply func(context.Context, message.Push) error) {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			fail(c, errBodyTooBig)
		} else {
			fail(c, errBadJSON.Wrap(err))
		}
		return
	}
	isXML := strings.Contains(c.GetHeader("Content-Type"), "xml") || bytes.HasPrefix(bytes.TrimSpace(body), []byte("<"))
	err = apply(c.Request.Context(), message.Push{
		Signature: c.Query("signature"), Timestamp: c.Query("timestamp"), Nonce: c.Query("nonce"),
		EncryptType: c.Query("encrypt_type"), MsgSignature: c.Query("msg_signature"), XML: isXML, Body: body,
	})
	if err != nil {
		fail(c, err)
		return
	}
	c.String(http.StatusOK, "success")
}

// oaPushCheck answers WeChat's check of the service account's server URL.
func (h *handlers) oaPushCheck(c *gin.Context) {
	echo, err := h.Message.VerifyOACallback(c.Query("signature"), c.Query("timestamp"), c.Query("nonce"), c.Query("echostr"))
	if err != nil {
		fail(c, err)
		return
	}
	c.String(http.StatusOK, "%s", echo)
}

// oaPush takes one push of the service account's events (XML, plaintext
// or AES): follows link the follower to our user, unfollows unlink.
func (h *handlers) oaPush(c *gin.Context) {
	h.callback(c, h.Message.HandleOACallback)
}

type pushChannelResponse struct {
	Channel   string `json:"channel"`
	OAEnabled bool   `json:"oa_enabled"`
	OALinked  bool   `json:"oa_linked"`
}

func newPushChannelResponse(p message.PushChannel) pushChannelResponse {
	return pushChannelResponse{Channel: p.Channel, OAEnabled: p.OAEnabled, OALinked: p.OALinked}
}

func (h *handlers) myPushChannel(c *gin.Context) {
	p, err := h.Message.PushChannel(c.Request.Context(), actor(c))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPushChannelResponse(p))
}

type pushChannelRequest struct {
	Channel string `json:"channel"`
}

func (h *handlers) setPushChannel(c *gin.Context) {
	var req pushChannelRequest
	if !bindJSON(c, &req) {
		return
	}
	p, err := h.Message.SetPushChannel(c.Request.Context(), actor(c), req.Channel)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPushChannelResponse(p))
}
