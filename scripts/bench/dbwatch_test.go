package main

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"2G": 2 << 30, "512M": 512 << 20, "512mb": 512 << 20, "1.5G": 3 << 29, "134217728": 134217728} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "big", "-1G", "0"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q): no error", in)
		}
	}
}

func TestStatementShapeDropsLiterals(t *testing.T) {
	got := stmtShape("UPDATE `orders` SET state='verified', version = version + 1\n WHERE id = 1042 AND version = 3")
	if want := "UPDATE `orders` SET state=?, version = version + ? WHERE id = ? AND version = ?"; got != want {
		t.Fatalf("stmtShape = %q, want %q", got, want)
	}
	if stmtShape("") != "(between statements)" || !strings.HasSuffix(stmtShape(strings.Repeat("x ", 200)), "…") {
		t.Fatal("an empty or a long statement is not named as expected")
	}
}

func TestDatabaseSectionCountsPerRequest(t *testing.T) {
	md := dbMarkdown([]DBFigures{{Phase: "mixed", Samples: 10, LockWaits: 3, RowsRead: map[string]int64{"orders": 90, "users": 10},
		Waits: []DBShape{{What: "INSERT waits", Count: 3, MaxMS: 40}}}},
		[]Figure{{Phase: "mixed", Server: "redprop", Requests: 60, Errors: 10}, {Phase: "mixed", Server: "redprop", Requests: 50}})
	for _, want := range []string{"| mixed | 10 | 3 |", "| 1.0 |", "wait ×3 (longest 40 ms)", "rows read: orders 90, users 10"} {
		if !strings.Contains(md, want) {
			t.Errorf("no %q in\n%s", want, md)
		}
	}
}
