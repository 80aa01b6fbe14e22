package message_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"redprop/model"
	"redprop/service/message"
	"redprop/service/wechat"
	"redprop/service/wechat/wechattest"
)

// A template picked from WeChat's library, keyed unlike the built-in
// mapping: 事项名称 {{thing1}}, 工单编号 {{character_string2}}, 提交时间
// {{time3}}, 地点 {{thing4}}.
var libraryTemplate = wechattest.Template{ID: "tpl_library_new", Title: "工单受理通知",
	Content: "事项名称:{{thing1.DATA}}\n工单编号:{{character_string2.DATA}}\n提交时间:{{time3.DATA}}\n地点:{{thing4.DATA}}"}

var libraryFields = map[string]string{"thing1": "title", "character_string2": "number", "time3": "time", "thing4": "place"}

// Each mapping that cannot work is refused when the service is built,
// naming the kind and the keyword.
func TestTemplateMappingRefusals(t *testing.T) {
	e := setup(t)
	cases := []struct {
		name    string
		oa      bool
		fields  map[string]string
		keyword string
		says    string
	}{
		{"unknown value", false, map[string]string{"thing1": "title", "thing2": "resident_name"}, "thing2", `"resident_name" is not a value of new_report`},
		{"meeting value on an order kind", false, map[string]string{"thing1": "meeting_place"}, "thing1", "not a value of new_report"},
		{"number keyword cannot hold the order number", false, map[string]string{"number1": "number"}, "number1", "cannot hold number"},
		{"phrase cannot hold the place", false, map[string]string{"phrase1": "place"}, "phrase1", "cannot hold place"},
		{"thing cannot hold a time", false, map[string]string{"thing1": "time"}, "thing1", "cannot hold time"},
		{"time cannot hold the title", false, map[string]string{"time1": "title"}, "time1", "cannot hold title"},
		{"amount fits nothing of ours", false, map[string]string{"amount1": "number"}, "amount1", "none of new_report's values fits it"},
		{"unknown keyword type", false, map[string]string{"short_thing1": "title"}, "short_thing1", `"short_thing" is not a keyword type`},
		{"not a keyword", false, map[string]string{"Thing": "title"}, "Thing", "not a WeChat keyword"},
		{"no keyword", false, map[string]string{}, "", "no keyword mapped"},
		{"oa typed keyword", true, map[string]string{"phrase1": "title"}, "phrase1", "cannot hold title"},
		{"oa old-style keyword, unknown value", true, map[string]string{"first": "title", "keyword1": "grid"}, "keyword1", `"grid" is not a value`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := e.cfg
			cfg.Templates, cfg.OATemplates = message.DefaultTemplates(), message.DefaultOATemplates()
			if c.oa {
				cfg.OATemplates[message.KindNewReport] = message.OATemplate{ID: "oa1", Fields: c.fields}
			} else {
				cfg.Templates[message.KindNewReport] = message.Template{ID: "t1", Fields: c.fields}
			}
			_, err := message.New(e.db, e.clock, e.wx, cfg)
			var te *message.TemplateError
			if !errors.As(err, &te) || te.Kind != message.KindNewReport || te.Keyword != c.keyword || te.OA != c.oa ||
				!strings.Contains(err.Error(), c.says) {
				t.Fatalf("error %v (%#v), want kind new_report keyword %q saying %q", err, te, c.keyword, c.says)
			}
		})
	}
	t.Run("what fits is accepted", func(t *testing.T) {
		cfg := e.cfg
		cfg.Templates = message.DefaultTemplates()
		cfg.Templates[message.KindNewReport] = message.Template{ID: "t1", Fields: map[string]string{
			"thing1": "state", "phrase2": "category", "date3": "time", "character_string4": "number", "thing5": "body"}}
		cfg.Templates[message.KindMeeting] = message.Template{ID: "t2", Fields: map[string]string{
			"thing1": "meeting_title", "date2": "meeting_time", "time3": "time"}}
		cfg.OATemplates = message.DefaultOATemplates()
		cfg.OATemplates[message.KindRating] = message.OATemplate{ID: "oa", Fields: map[string]string{
			"first": "title", "keyword1": "time", "keyword2": "number", "remark": "body"}}
		if _, err := message.New(e.db, e.clock, e.wx, cfg); err != nil {
			t.Fatal(err)
		}
	})
}

func TestParseFields(t *testing.T) {
	t.Run("pairs with spaces", func(t *testing.T) {
		f, err := message.ParseFields(" thing1 = title, time2=time ,")
		if err != nil || len(f) != 2 || f["thing1"] != "title" || f["time2"] != "time" {
			t.Fatalf("%v %v", f, err)
		}
	})
	for name, c := range map[string]struct{ spec, says string }{
		"duplicate keyword": {"thing1=title,time2=time,thing1=place", "keyword thing1 is mapped twice"},
		"no value":          {"thing1=", `"thing1=" is not keyword=value`},
		"no equals":         {"thing1", `"thing1" is not keyword=value`},
		"empty":             {" , ", "no keyword mapped"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := message.ParseFields(c.spec); err == nil || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("%q: %v, want %q", c.spec, err, c.says)
			}
		})
	}
}

// The defect: with a template keyed unlike the built-in mapping every push
// was refused with 47003 and died. Mapped as the console shows it, the
// push reaches WeChat with the template's own keywords, each value fitted
// to its keyword's type.
func TestDifferentlyKeyedTemplateReachesWeChat(t *testing.T) {
	ev := newReport("order:12:submitted")
	ev.Title = "新工单：三号楼楼道灯不亮了已经好几天了请尽快维修"
	t.Run("built-in mapping", func(t *testing.T) {
		e := setup(t, func(c *message.Config) {
			tpl := c.Templates[message.KindNewReport]
			tpl.ID = libraryTemplate.ID
			c.Templates[message.KindNewReport] = tpl
		})
		e.fake.SetTemplates(libraryTemplate)
		a := e.user("oa")
		e.allow(a, "oa", libraryTemplate.ID, 1)
		ev := ev
		ev.UserIDs = []int64{a}
		e.publish(ev)
		if st := e.deliver(); st.Dead != 1 {
			t.Fatalf("%+v: the fake must refuse the built-in keys for this template", st)
		}
		if row := e.rows("user_id = ?", a)[0]; row.LastCode != "47003" {
			t.Fatalf("row %+v", row)
		}
	})
	t.Run("configured mapping", func(t *testing.T) {
		e := setup(t, func(c *message.Config) {
			c.Templates[message.KindNewReport] = message.Template{ID: libraryTemplate.ID,
				Page: "pages/order/detail?id={order_id}", Fields: libraryFields}
		})
		e.fake.SetTemplates(libraryTemplate)
		a := e.user("oa")
		e.allow(a, "oa", libraryTemplate.ID, 1)
		ev := ev
		ev.UserIDs = []int64{a}
		e.publish(ev)
		if st := e.deliver(); st.Sent != 1 {
			t.Fatalf("%+v", st)
		}
		var push map[string]any
		for _, r := range e.fake.Requests() {
			if r.Endpoint == wechattest.SubscribeSend && r.ErrCode == 0 {
				push = r.Body
			}
		}
		data, _ := push["data"].(map[string]any)
		value := func(k string) string { v, _ := data[k].(map[string]any)["value"].(string); return v }
		if len(data) != 4 || value("character_string2") != "20261123-0001" || value("thing4") != "1号楼1单元" ||
			value("time3") != "2026年11月23日 10:00" || value("thing1") != "新工单：三号楼楼道灯不亮了已经好几天了…" {
			t.Fatalf("push data %v", data)
		}
	})
}

// logBuffer is a logger whose lines a test reads.
func logBuffer() (*slog.Logger, *bytes.Buffer) {
	var b bytes.Buffer
	return slog.New(slog.NewTextHandler(&b, nil)), &b
}

// At start the configured templates are compared with the account's own
// list: a mismatch names the kind and the keyword; a list WeChat does not
// give is a warning, not a refusal.
func TestCheckTemplatesAgainstTheAccountList(t *testing.T) {
	build := func(t *testing.T, fields map[string]string) (*env, *bytes.Buffer) {
		log, buf := logBuffer()
		e := setup(t, func(c *message.Config) {
			c.Log = log
			c.Templates = map[string]message.Template{
				message.KindNewReport: {ID: libraryTemplate.ID, Fields: fields},
			}
		})
		return e, buf
	}
	t.Run("match", func(t *testing.T) {
		e, _ := build(t, libraryFields)
		e.fake.SetTemplates(libraryTemplate, wechattest.Template{ID: "other", Content: "{{thing1.DATA}}"})
		if err := e.svc.CheckTemplates(e.ctx, e.wx, nil); err != nil {
			t.Fatal(err)
		}
		if e.fake.Calls(wechattest.SubscribeTemplates) != 1 {
			t.Fatal("the list was not asked for")
		}
	})
	refusals := []struct {
		name    string
		fields  map[string]string
		list    []wechattest.Template
		keyword string
		says    string
	}{
		{"id not in the list", libraryFields, []wechattest.Template{{ID: "someone_else", Content: "{{thing1.DATA}}"}}, "",
			"template id tpl_library_new is not among the account's templates"},
		{"keyword the template lacks", map[string]string{"thing1": "title", "character_string2": "number", "time3": "time", "thing5": "place"},
			[]wechattest.Template{libraryTemplate}, "thing5", "has no such keyword; it has thing1, character_string2, time3, thing4"},
		{"keyword of the template left unmapped", map[string]string{"thing1": "title", "character_string2": "number", "time3": "time"},
			[]wechattest.Template{libraryTemplate}, "thing4", "no value is mapped to it"},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			e, _ := build(t, c.fields)
			e.fake.SetTemplates(c.list...)
			err := e.svc.CheckTemplates(e.ctx, e.wx, nil)
			var te *message.TemplateError
			if !errors.As(err, &te) || te.Kind != message.KindNewReport || te.Keyword != c.keyword || te.OA ||
				!strings.Contains(err.Error(), c.says) {
				t.Fatalf("error %v, want keyword %q saying %q", err, c.keyword, c.says)
			}
		})
	}
	t.Run("a revoked token is renewed", func(t *testing.T) {
		e, _ := build(t, libraryFields)
		e.fake.SetTemplates(libraryTemplate)
		if err := e.svc.CheckTemplates(e.ctx, e.wx, nil); err != nil {
			t.Fatal(err)
		}
		e.fake.InvalidateTokens()
		if err := e.svc.CheckTemplates(e.ctx, e.wx, nil); err != nil {
			t.Fatal(err)
		}
		var codes []int
		for _, r := range e.fake.Requests() {
			if r.Endpoint == wechattest.SubscribeTemplates {
				codes = append(codes, r.ErrCode)
			}
		}
		if len(codes) != 3 || codes[1] != 40001 || codes[2] != 0 {
			t.Fatalf("list calls answered %v, want 0, 40001, 0", codes)
		}
	})
	for name, breakIt := range map[string]func(*wechattest.Server){
		"WeChat down":        func(s *wechattest.Server) { s.Fail(true) },
		"list not permitted": func(s *wechattest.Server) {}, // the fake answers 48001 until templates are set
	} {
		t.Run(name, func(t *testing.T) {
			e, log := build(t, libraryFields)
			breakIt(e.fake)
			if err := e.svc.CheckTemplates(e.ctx, e.wx, nil); err != nil {
				t.Fatalf("start refused: %v", err)
			}
			if !strings.Contains(log.String(), "templates not checked at start") {
				t.Fatalf("no warning: %s", log.String())
			}
		})
	}
	t.Run("nothing configured asks nothing", func(t *testing.T) {
		e := setup(t, func(c *message.Config) { c.Templates = message.DefaultTemplates() })
		if err := e.svc.CheckTemplates(e.ctx, e.wx, nil); err != nil || e.fake.Calls(wechattest.SubscribeTemplates) != 0 {
			t.Fatalf("%v, %d calls", err, e.fake.Calls(wechattest.SubscribeTemplates))
		}
	})
}

// The service account's templates: old-style keywords and typed ones,
// checked against get_all_private_template.
func TestCheckOATemplatesAgainstTheAccountList(t *testing.T) {
	oldStyle := wechattest.Template{ID: "oa_old", Title: "工单进度通知",
		Content: "{{first.DATA}}\n工单编号：{{keyword1.DATA}}\n处理状态：{{keyword2.DATA}}\n更新时间：{{keyword3.DATA}}\n{{remark.DATA}}"}
	fields := map[string]string{"first": "title", "keyword1": "number", "keyword2": "state", "keyword3": "time", "remark": "body"}
	build := func(t *testing.T, fields map[string]string) (*env, *bytes.Buffer) {
		log, buf := logBuffer()
		e := setupOA(t, func(c *message.Config) {
			c.Log = log
			c.OATemplates = map[string]message.OATemplate{message.KindProgress: {ID: oldStyle.ID, Fields: fields}}
		})
		return e, buf
	}
	t.Run("match, and the push carries the keywords", func(t *testing.T) {
		e, _ := build(t, fields)
		e.fake.SetOATemplates(oldStyle)
		if err := e.svc.CheckTemplates(e.ctx, nil, e.oa); err != nil {
			t.Fatal(err)
		}
		data, _ := message.RenderOA(e.svc, message.KindProgress, message.Event{Title: "工单已受理",
			Fields: map[string]string{"number": "GD202611230001", "state": model.StateAccepted, "time": "2026-11-23T10:00:00+08:00"}}, e.clock.Now())
		if data["keyword2"] != "已受理" || data["keyword3"] != "2026年11月23日 10:00" || data["keyword1"] != "GD202611230001" {
			t.Fatalf("rendered %v", data)
		}
	})
	t.Run("an unmapped keyword is only a warning", func(t *testing.T) {
		e, log := build(t, map[string]string{"first": "title", "keyword1": "number"})
		e.fake.SetOATemplates(oldStyle)
		if err := e.svc.CheckTemplates(e.ctx, nil, e.oa); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(log.String(), "keyword=keyword2") {
			t.Fatalf("no warning for keyword2: %s", log.String())
		}
	})
	for name, c := range map[string]struct {
		fields  map[string]string
		list    wechattest.Template
		keyword string
		says    string
	}{
		"id not in the list":         {fields, wechattest.Template{ID: "oa_other", Content: "{{first.DATA}}"}, "", "template id oa_old is not among"},
		"keyword the template lacks": {map[string]string{"first": "title", "keyword4": "place"}, oldStyle, "keyword4", "has no such keyword"},
	} {
		t.Run(name, func(t *testing.T) {
			e, _ := build(t, c.fields)
			e.fake.SetOATemplates(c.list)
			err := e.svc.CheckTemplates(e.ctx, nil, e.oa)
			var te *message.TemplateError
			if !errors.As(err, &te) || !te.OA || te.Kind != message.KindProgress || te.Keyword != c.keyword ||
				!strings.Contains(err.Error(), c.says) {
				t.Fatalf("error %v, want keyword %q saying %q", err, c.keyword, c.says)
			}
		})
	}
	t.Run("WeChat down", func(t *testing.T) {
		e, log := build(t, fields)
		e.fake.Close()
		if err := e.svc.CheckTemplates(context.Background(), nil, e.oa); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(log.String(), "service_account=true") {
			t.Fatalf("no warning: %s", log.String())
		}
	})
}

var _ message.TemplateLister = (*wechat.Client)(nil)
var _ message.TemplateLister = (*wechat.OfficialAccount)(nil)
