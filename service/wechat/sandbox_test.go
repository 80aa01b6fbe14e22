package wechat_test

import (
	"context"
	"fmt"
	"testing"

	"redprop/service/wechat"
)

func TestSandboxRecordsPushes(t *testing.T) {
	s := wechat.NewSandbox()
	ctx := context.Background()
	for i := range 205 {
		m := wechat.SubscribeMessage{ToUser: fmt.Sprint("u", i), TemplateID: "tpl", Data: map[string]string{"thing1": "x"}}
		if err := s.SendSubscribe(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	sent := s.Sent()
	if len(sent) != 200 || sent[0].ToUser != "u5" || sent[199].ToUser != "u204" {
		t.Fatalf("kept %d, first %q", len(sent), sent[0].ToUser)
	}
	sent[0].Data["thing1"] = "changed"
	if s.Sent()[0].Data["thing1"] != "x" {
		t.Fatal("Sent shares its maps with the sandbox")
	}
}

func TestSandboxMsgCheck(t *testing.T) {
	s := wechat.NewSandbox()
	ctx := context.Background()
	for content, want := range map[string]string{
		"楼道灯坏了":                 "pass",
		"含有 sandbox:risky 的文本":  "risky",
		"含有 sandbox:review 的文本": "review",
	} {
		if v, err := s.MsgCheck(ctx, "o1", 2, content); err != nil || v.Suggest != want {
			t.Errorf("%q: got %+v %v, want %s", content, v, err, want)
		}
	}
}
