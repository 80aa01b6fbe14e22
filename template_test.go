package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"redprop/service/message"
	"redprop/service/wechat/wechattest"
)

// A mapping is configuration: the built-in one when nothing is set, the
// operator's when set, and refused before anything starts, naming the
// configuration key, the kind and the keyword.
func TestTemplateMappingConfig(t *testing.T) {
	getenv := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	t.Run("default keeps the built-in mapping", func(t *testing.T) {
		cfg, err := loadConfig("", getenv(nil))
		if err != nil {
			t.Fatal(err)
		}
		mc, err := messageConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		def, defOA := message.DefaultTemplates(), message.DefaultOATemplates()
		for _, kind := range message.Kinds() {
			if !equalFields(mc.Templates[kind].Fields, def[kind].Fields) || !equalFields(mc.OATemplates[kind].Fields, defOA[kind].Fields) {
				t.Errorf("%s: %v / %v", kind, mc.Templates[kind].Fields, mc.OATemplates[kind].Fields)
			}
		}
	})
	t.Run("configured mapping replaces the kind's", func(t *testing.T) {
		cfg, err := loadConfig("", getenv(map[string]string{
			"REDPROP_TEMPLATE_NEW_REPORT":        "tpl_x",
			"REDPROP_TEMPLATE_NEW_REPORT_FIELDS": "thing1=title, time2=time ,thing3=place",
			"REDPROP_OA_TEMPLATE_MEETING_FIELDS": "first=meeting_title,keyword1=meeting_time",
			"REDPROP_TEMPLATE_PROGRESS_FIELDS":   "",
		}))
		if err != nil {
			t.Fatal(err)
		}
		mc, _ := messageConfig(cfg)
		if f := mc.Templates[message.KindNewReport].Fields; len(f) != 3 || f["thing1"] != "title" || f["time2"] != "time" ||
			mc.Templates[message.KindNewReport].ID != "tpl_x" {
			t.Fatalf("new_report %+v", mc.Templates[message.KindNewReport])
		}
		if f := mc.OATemplates[message.KindMeeting].Fields; len(f) != 2 || f["keyword1"] != "meeting_time" {
			t.Fatalf("oa meeting %v", f)
		}
		if !equalFields(mc.Templates[message.KindProgress].Fields, message.DefaultTemplates()[message.KindProgress].Fields) {
			t.Fatal("an empty mapping must keep the built-in one")
		}
	})
	refusals := []struct {
		name, key, spec string
		says            []string
	}{
		{"unknown value", "REDPROP_TEMPLATE_NEW_REPORT_FIELDS", "thing1=title,thing2=grid_name",
			[]string{"template_new_report_fields (REDPROP_TEMPLATE_NEW_REPORT_FIELDS)", "template new_report, keyword thing2", `"grid_name" is not a value`}},
		{"type cannot hold the value", "REDPROP_TEMPLATE_RATING_FIELDS", "thing1=title,phrase2=place",
			[]string{"template_rating_fields (REDPROP_TEMPLATE_RATING_FIELDS)", "template rating, keyword phrase2", "cannot hold place"}},
		{"duplicate keyword", "REDPROP_TEMPLATE_MEETING_FIELDS", "thing1=meeting_title,thing1=meeting_place",
			[]string{"template_meeting_fields (REDPROP_TEMPLATE_MEETING_FIELDS)", "kind meeting", "keyword thing1 is mapped twice"}},
		{"service account", "REDPROP_OA_TEMPLATE_PROGRESS_FIELDS", "first=title,time3=state",
			[]string{"oa_template_progress_fields (REDPROP_OA_TEMPLATE_PROGRESS_FIELDS)", "service-account template progress, keyword time3"}},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadConfig("", getenv(map[string]string{c.key: c.spec}))
			for _, want := range c.says {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("error %v lacks %q", err, want)
				}
			}
		})
	}
}

func equalFields(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// The start compares the configured templates with the account's list at
// the (fake) WeChat: a mismatch stops it naming the key, the kind and the
// keyword; a match starts; an unreachable WeChat starts with a warning.
func TestServeChecksTemplatesAgainstWeChat(t *testing.T) {
	tpl := wechattest.Template{ID: "tpl_library", Title: "工单受理通知",
		Content: "事项名称:{{thing1.DATA}}\n工单编号:{{character_string2.DATA}}\n时间:{{time3.DATA}}"}
	oaTpl := wechattest.Template{ID: "oa_library", Title: "工单进度通知", Content: "{{first.DATA}}{{keyword1.DATA}}{{keyword2.DATA}}"}
	start := func(t *testing.T, fake *wechattest.Server, extra map[string]string) (func() error, *syncBuffer) {
		vars := map[string]string{
			"REDPROP_DATA_DIR": t.TempDir(), "REDPROP_ADDR": freeAddr(t), "REDPROP_SHUTDOWN_TIMEOUT": "5s",
			"REDPROP_WECHAT_APP_ID": wechattest.AppID, "REDPROP_WECHAT_APP_SECRET": wechattest.AppSecret,
			"REDPROP_WECHAT_BASE_URL": fake.URL(), "REDPROP_WECHAT_TIMEOUT": "2s",
			"REDPROP_TEMPLATE_NEW_REPORT":        tpl.ID,
			"REDPROP_TEMPLATE_NEW_REPORT_FIELDS": "thing1=title,character_string2=number,time3=time",
			"REDPROP_WECHAT_OA_ENABLED":          "true",
			"REDPROP_WECHAT_OA_APP_ID":           wechattest.OAAppID, "REDPROP_WECHAT_OA_APP_SECRET": wechattest.OAAppSecret,
			"REDPROP_OA_TEMPLATE_PROGRESS":        oaTpl.ID,
			"REDPROP_OA_TEMPLATE_PROGRESS_FIELDS": "first=title,keyword1=number,keyword2=state",
		}
		for k, v := range extra {
			vars[k] = v
		}
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		out := &syncBuffer{}
		done := make(chan error, 1)
		go func() { done <- run(ctx, nil, func(k string) string { return vars[k] }, out) }()
		// wait returns serve's error when it stops by itself, nil once ready
		// (and then stops it).
		wait := func() error {
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) {
				select {
				case err := <-done:
					return err
				default:
				}
				if resp, err := http.Get("http://" + vars["REDPROP_ADDR"] + "/readyz"); err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						cancel()
						if err := <-done; err != nil {
							t.Fatalf("stop: %v", err)
						}
						return nil
					}
				}
				time.Sleep(50 * time.Millisecond)
			}
			t.Fatalf("neither ready nor stopped:\n%s", out.String())
			return nil
		}
		return wait, out
	}
	t.Run("match starts", func(t *testing.T) {
		fake := wechattest.NewServer(t)
		fake.SetTemplates(tpl)
		fake.SetOATemplates(oaTpl)
		wait, out := start(t, fake, nil)
		if err := wait(); err != nil {
			t.Fatalf("refused: %v\n%s", err, out.String())
		}
		if fake.Calls(wechattest.SubscribeTemplates) != 1 || fake.Calls(wechattest.OATemplates) != 1 {
			t.Fatal("the lists were not read")
		}
	})
	refusals := []struct {
		name  string
		extra map[string]string
		says  []string
	}{
		{"keyword the template lacks", map[string]string{"REDPROP_TEMPLATE_NEW_REPORT_FIELDS": "thing1=title,character_string2=number,time3=time,thing4=place"},
			[]string{"template_new_report_fields (REDPROP_TEMPLATE_NEW_REPORT_FIELDS)", "template new_report, keyword thing4", "has no such keyword"}},
		{"id not in the list", map[string]string{"REDPROP_TEMPLATE_NEW_REPORT": "tpl_gone"},
			[]string{"template_new_report (REDPROP_TEMPLATE_NEW_REPORT)", "template new_report: template id tpl_gone is not among"}},
		{"service account keyword the template lacks", map[string]string{"REDPROP_OA_TEMPLATE_PROGRESS_FIELDS": "first=title,keyword3=state"},
			[]string{"oa_template_progress_fields (REDPROP_OA_TEMPLATE_PROGRESS_FIELDS)", "service-account template progress, keyword keyword3"}},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			fake := wechattest.NewServer(t)
			fake.SetTemplates(tpl)
			fake.SetOATemplates(oaTpl)
			wait, _ := start(t, fake, c.extra)
			err := wait()
			for _, want := range c.says {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("error %v lacks %q", err, want)
				}
			}
		})
	}
	t.Run("WeChat unreachable starts with a warning", func(t *testing.T) {
		fake := wechattest.NewServer(t)
		fake.Fail(true)
		wait, out := start(t, fake, nil)
		if err := wait(); err != nil {
			t.Fatalf("refused: %v", err)
		}
		if n := strings.Count(out.String(), "templates not checked at start"); n != 2 {
			t.Fatalf("%d warnings, want one per account:\n%s", n, out.String())
		}
	})
}
