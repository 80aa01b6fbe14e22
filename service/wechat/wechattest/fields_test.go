package wechattest

import (
	"strings"
	"testing"
)

func TestFieldOK(t *testing.T) {
	for _, c := range []struct {
		key, value string
		ok         bool
	}{
		{"thing1", strings.Repeat("字", 20), true},
		{"thing1", strings.Repeat("字", 21), false},
		{"thing1", "", false},
		{"number2", "12.5", true},
		{"number2", "12a", false},
		{"letter3", "abc", true},
		{"letter3", "ab1", false},
		{"character_string4", "GD202611220001-A", true},
		{"character_string4", "工单1", false},
		{"character_string4", strings.Repeat("a", 33), false},
		{"symbol5", "%", true},
		{"phrase6", "已完成", true},
		{"phrase6", "已经完成了的", false},
		{"phrase6", "done", false},
		{"name7", "张三", true},
		{"name7", strings.Repeat("张", 11), false},
		{"name7", "Zhang San", true},
		{"amount8", "¥100.50元", true},
		{"amount8", "一百元", false},
		{"phone_number9", "+86 138-0013-8000", true},
		{"car_number10", "京A12345", true},
		{"car_number10", "京A1234567", false},
		{"time11", "15:01", true},
		{"time11", "2026年11月22日 15:01", true},
		{"time11", "15:01~17:00", true},
		{"time11", "tomorrow", false},
		{"date12", "2026年11月22日", true},
		{"date12", "2026-11-22", false},
		{"unknown13", "anything", true},
	} {
		if got := FieldOK(c.key, c.value); got != c.ok {
			t.Errorf("FieldOK(%q, %q) = %v", c.key, c.value, got)
		}
	}
}
