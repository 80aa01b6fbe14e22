package service

import "testing"

func TestCutRunesCountsCharacters(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{{"金日天玺小区", 4, "金日天玺"}, {"abc", 5, "abc"}, {"楼道", 0, ""}, {"", 3, ""}} {
		if got := CutRunes(c.in, c.n); got != c.want {
			t.Errorf("CutRunes(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
