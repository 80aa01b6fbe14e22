package wechat_test

import (
	"context"
	"slices"
	"testing"

	"redprop/service"
	"redprop/service/wechat"
	"redprop/service/wechat/wechattest"
)

var ctx = context.Background()

func TestKeywords(t *testing.T) {
	got := wechat.Keywords("事项名称:{{thing1.DATA}}\n时间：{{ time2.DATA }}\n{{thing1.DATA}}{{first.DATA}}{{keyword1.DATA}}{{bad}}")
	if want := []string{"thing1", "time2", "first", "keyword1"}; !slices.Equal(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
}

// The mini-program's own templates, as gettemplate lists them; a token
// WeChat revoked is renewed, and a refusal is an upstream error.
func TestSubscribeTemplates(t *testing.T) {
	e := setup(t)
	t.Run("not permitted", func(t *testing.T) {
		_, err := e.wx.Templates(ctx)
		requireKind(t, err, service.KindUpstream, "wechat_error")
		requireAPICode(t, err, 48001)
	})
	e.fake.SetTemplates(wechattest.Template{ID: "tpl_a", Title: "工单受理通知", Content: "事项:{{thing1.DATA}}\n时间:{{time2.DATA}}"},
		wechattest.Template{ID: "tpl_b", Title: "会议通知", Content: "{{thing3.DATA}}"})
	t.Run("listed", func(t *testing.T) {
		list, err := e.wx.Templates(ctx)
		if err != nil || len(list) != 2 || list[0].ID != "tpl_a" || list[0].Title != "工单受理通知" ||
			!slices.Equal(list[0].Keywords, []string{"thing1", "time2"}) || !slices.Equal(list[1].Keywords, []string{"thing3"}) {
			t.Fatalf("%+v %v", list, err)
		}
	})
	t.Run("revoked token", func(t *testing.T) {
		e.fake.InvalidateTokens()
		if list, err := e.wx.Templates(ctx); err != nil || len(list) != 2 {
			t.Fatalf("%+v %v", list, err)
		}
	})
	t.Run("down", func(t *testing.T) {
		e.fake.Fail(true)
		defer e.fake.Fail(false)
		_, err := e.wx.Templates(ctx)
		requireKind(t, err, service.KindUnavailable, "wechat_unreachable")
	})
}

func TestOATemplates(t *testing.T) {
	e := setup(t)
	oa := e.officialAccount(t)
	e.fake.SetOATemplates(wechattest.Template{ID: "oa_a", Title: "工单进度通知", Content: "{{first.DATA}}\n编号：{{keyword1.DATA}}\n{{remark.DATA}}"})
	list, err := oa.Templates(ctx)
	if err != nil || len(list) != 1 || list[0].ID != "oa_a" || !slices.Equal(list[0].Keywords, []string{"first", "keyword1", "remark"}) {
		t.Fatalf("%+v %v", list, err)
	}
	// The mini-program's token is not the account's.
	if _, err := e.wx.Templates(ctx); err == nil {
		t.Fatal("the mini-program read the account's list")
	}
}
