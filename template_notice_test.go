package main

import (
	"strings"
	"testing"

	"redprop/service/message"
)

// The notice kind is configured like the others: its template id, its
// mapping and its long-term flag from the environment; a mapping naming
// a value notices do not offer is refused by its key.
func TestNoticeTemplateConfig(t *testing.T) {
	getenv := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	cfg, err := loadConfig("", getenv(map[string]string{
		"REDPROP_TEMPLATE_NOTICE":           "tpl_notice",
		"REDPROP_TEMPLATE_NOTICE_FIELDS":    "thing1=title,thing2=publisher,time3=time",
		"REDPROP_OA_TEMPLATE_NOTICE_FIELDS": "first=title,keyword1=publisher",
		"REDPROP_TEMPLATES_LONG_TERM":       "notice",
	}))
	if err != nil {
		t.Fatal(err)
	}
	mc, err := messageConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tpl := mc.Templates[message.KindNotice]
	if tpl.ID != "tpl_notice" || !tpl.LongTerm || len(tpl.Fields) != 3 || tpl.Fields["thing2"] != "publisher" {
		t.Fatalf("notice template %+v", tpl)
	}
	if f := mc.OATemplates[message.KindNotice].Fields; f["keyword1"] != "publisher" {
		t.Fatalf("oa notice %v", f)
	}
	cfg, err = loadConfig("", getenv(map[string]string{"REDPROP_TEMPLATE_NOTICE_FIELDS": "thing1=meeting_place"}))
	if err == nil {
		_, err = messageConfig(cfg)
	}
	if err == nil || !strings.Contains(err.Error(), "template_notice_fields") {
		t.Fatalf("a value notices do not offer: %v", err)
	}
}
