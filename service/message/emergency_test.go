package message_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"redprop/model"
	"redprop/service/message"
	"redprop/service/servicetest"
)

// fakeTencentSMS answers like Tencent Cloud's SendSms (API 2021-01-11):
// every number Ok, or the error of refuse.
type fakeTencentSMS struct {
	srv    *httptest.Server
	mu     sync.Mutex
	sent   []map[string]any
	refuse string // an error code to answer with
}

func newFakeTencentSMS(t *testing.T) *fakeTencentSMS {
	f := &fakeTencentSMS{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		f.mu.Lock()
		defer f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("X-TC-Action") != "SendSms" || r.Header.Get("Authorization") == "" {
			_, _ = io.WriteString(w, `{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"unsigned"},"RequestId":"r0"}}`)
			return
		}
		if f.refuse != "" {
			_, _ = io.WriteString(w, `{"Response":{"Error":{"Code":"`+f.refuse+`","Message":"refused"},"RequestId":"r1"}}`)
			return
		}
		f.sent = append(f.sent, body)
		_, _ = io.WriteString(w, `{"Response":{"SendStatusSet":[{"SerialNo":"s1","PhoneNumber":"+8613800001234","Fee":1,"SessionContext":"","Code":"Ok","Message":"send success","IsoCode":"CN"}],"RequestId":"r2"}}`)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeTencentSMS) texts() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sent)
}

func withSMS(t *testing.T, f *fakeTencentSMS) func(*message.Config) {
	sms, err := message.NewTencentSMS(message.TencentSMSOptions{SecretID: "AKIDtest", SecretKey: "secret",
		SDKAppID: "1400000000", SignName: "红色物业", Endpoint: f.srv.URL})
	servicetest.Must(t, err)
	return func(c *message.Config) {
		c.SMSEnabled, c.SMS = true, sms
		c.SMSTemplate = message.SMSTemplate{Code: "2233445"}
	}
}

func urgent(key string, users ...int64) message.Event {
	ev := newReport(key, users...)
	ev.Event, ev.Title, ev.Urgent = "emergency.call", "紧急呼叫，请立即响应", true
	return ev
}

func (e *env) setPhone(userID int64, phone string) {
	e.t.Helper()
	servicetest.Must(e.t, e.db.Model(&model.User{}).Where("id = ?", userID).Update("phone", phone).Error)
}

// A responder with no allowance left is reached by the service account or
// by text; one reachable on neither gets the inbox message only.
func TestUrgentReachesAResponderWithoutQuota(t *testing.T) {
	sms := newFakeTencentSMS(t)
	e := setupOA(t, withSMS(t, sms))
	follower := e.staff("o_follow", "u_follow")
	e.follow("oa_follow", "u_follow")
	texted := e.user("o_text")
	e.setPhone(texted, "13800001234")
	nobody := e.user("o_nobody")

	t.Run("reach", func(t *testing.T) {
		reach, err := e.svc.Reach(e.ctx, e.db, message.KindNewReport, []int64{follower.UserID, texted, nobody})
		servicetest.Must(t, err)
		if !slices.Equal(reach[follower.UserID], []string{model.ChannelOA}) || !slices.Equal(reach[texted], []string{model.ChannelSMS}) ||
			len(reach[nobody]) != 0 {
			t.Fatalf("reach %v", reach)
		}
	})
	e.publish(urgent("emergency:1:emergency.call:1", follower.UserID, texted, nobody))
	t.Run("sent by the account and by text", func(t *testing.T) {
		if st := e.deliver(); st.Sent != 2 || st.Skipped != 0 || st.Claimed != 2 {
			t.Fatalf("stats %+v, want 2 sent", st)
		}
		if n := len(e.fake.Templates("oa_follow")); n != 1 {
			t.Fatalf("%d template messages", n)
		}
		texts := sms.texts()
		if len(texts) != 1 {
			t.Fatalf("%d texts", len(texts))
		}
		if got, _ := json.Marshal(texts[0]["PhoneNumberSet"]); string(got) != `["+8613800001234"]` ||
			texts[0]["TemplateId"] != "2233445" || texts[0]["SignName"] != "红色物业" || texts[0]["SmsSdkAppId"] != "1400000000" {
			t.Fatalf("text %v", texts[0])
		}
		if params, _ := json.Marshal(texts[0]["TemplateParamSet"]); string(params) != `["1号楼1单元","20261123-0001"]` {
			t.Fatalf("params %s", params)
		}
		if rows := e.rows("user_id = ?", texted); len(rows) != 1 || rows[0].ToUser != "138****1234" || rows[0].State != model.OutboxSent {
			t.Fatalf("sms row %+v", rows)
		}
	})
	t.Run("nobody: inbox only, no push to skip", func(t *testing.T) {
		if rows := e.rows("user_id = ?", nobody); len(rows) != 0 {
			t.Fatalf("%d rows", len(rows))
		}
		if ms := e.messages(nobody); len(ms) != 1 {
			t.Fatalf("%d inbox messages", len(ms))
		}
	})
	t.Run("a refused text is not counted as sent", func(t *testing.T) {
		sms.mu.Lock()
		sms.refuse = "FailedOperation.TemplateIncorrectOrUnapproved"
		sms.mu.Unlock()
		e.publish(urgent("emergency:1:emergency.repeat:2", texted))
		if st := e.deliver(); st.Sent != 0 || st.Failed != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// Routine pushes leave a responder the last allowance of the new-report
// template; the emergency alert takes it. Someone no call alerts (a firm
// manager) keeps nothing back.
func TestRoutinePushesLeaveTheEmergencyAllowance(t *testing.T) {
	e := setup(t, func(c *message.Config) { c.EmergencyReserve = 1 })
	t.Run("not a responder", func(t *testing.T) {
		mgr := e.user("o_m")
		servicetest.Must(t, e.db.Create(&model.Grant{UserID: mgr, Role: model.RoleFirmManager, ScopeKind: model.ScopeFirm, ScopeID: 1}).Error)
		e.allow(mgr, "o_m", tplNew, 2)
		e.publish(newReport("order:8:dispatched:v1", mgr))
		e.publish(newReport("order:9:dispatched:v1", mgr))
		if st := e.deliver(); st.Sent != 2 || st.Skipped != 0 {
			t.Fatalf("a firm manager's pushes: %+v, want both sent", st)
		}
	})
	uid := e.user("o_r")
	servicetest.Must(t, e.db.Create(&model.Grant{UserID: uid, Role: model.RoleGridWorker, ScopeKind: model.ScopeGrid, ScopeID: 1}).Error)
	e.allow(uid, "o_r", tplNew, 2)
	e.publish(newReport("order:1:submitted:v1", uid))
	e.publish(newReport("order:2:submitted:v1", uid))
	if st := e.deliver(); st.Sent != 1 || st.Skipped != 1 {
		t.Fatalf("routine: %+v, want one sent and one held back", st)
	}
	if rows := e.rows("user_id = ? AND state = ?", uid, model.OutboxSkipped); len(rows) != 1 || rows[0].SkipReason != message.SkipReserved {
		t.Fatalf("skipped %+v", rows)
	}
	if e.remaining(uid, tplNew) != 1 {
		t.Fatalf("remaining %d", e.remaining(uid, tplNew))
	}
	subs, err := e.svc.Subscriptions(e.ctx, actor(uid))
	servicetest.Must(t, err)
	if i := slices.IndexFunc(subs, func(s message.Subscription) bool { return s.TemplateID == tplNew }); i < 0 || !subs[i].Ask {
		t.Fatalf("subscriptions %+v: the mini-program should ask again", subs)
	}
	e.publish(urgent("emergency:1:emergency.call:1", uid))
	if st := e.deliver(); st.Sent != 1 {
		t.Fatalf("emergency: %+v", st)
	}
	if e.delivered("o_r") != 2 || e.remaining(uid, tplNew) != 0 {
		t.Fatalf("delivered %d remaining %d", e.delivered("o_r"), e.remaining(uid, tplNew))
	}
}

// An emergency alert is claimed before an older backlog.
func TestUrgentRowsGoAheadOfTheBacklog(t *testing.T) {
	e := setup(t, func(c *message.Config) { c.BatchSize = 2 })
	busy := e.user("o_busy")
	e.allow(busy, "o_busy", tplNew, 5)
	for i := range 5 {
		e.publish(newReport("order:"+string(rune('a'+i))+":submitted", busy))
	}
	e.clock.Advance(10 * 60e9)
	responder := e.user("o_resp")
	e.allow(responder, "o_resp", tplNew, 1)
	e.publish(urgent("emergency:1:emergency.call:1", responder))
	want := e.rows("user_id = ?", responder)[0].ID
	var first []int64
	message.SetOnClaim(e.svc, func(_ string, ids []int64) {
		if first == nil {
			first = ids
		}
	})
	e.deliver()
	if len(first) == 0 || first[0] != want {
		t.Fatalf("first claim %v, want the emergency row %d first", first, want)
	}
	if e.delivered("o_resp") != 1 {
		t.Fatal("the emergency alert did not go out in the first batch")
	}
}
