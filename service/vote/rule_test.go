package vote

import (
	"testing"

	"redprop/model"
)

// The arithmetic of 民法典 art. 278 at its edges, in centi-m² and heads.
func TestDecideEdges(t *testing.T) {
	c := func(area, heads int64) Count { return Count{AreaCentiM2: area, Heads: heads} }
	total := c(30000, 30) // 300.00 m², 30 owners
	cases := []struct {
		name    string
		special bool
		yesNo   bool
		total   Count
		choices []Count
		outcome string
		winner  int
	}{
		{"exactly 2/3 of area and heads take part", false, true, total,
			[]Count{c(20000, 20)}, model.OutcomePassed, 0},
		{"one centi-m² under 2/3 of the area", false, true, total,
			[]Count{c(19999, 20)}, model.OutcomeNoQuorum, -1},
		{"one head under 2/3 of the owners", false, true, total,
			[]Count{c(30000, 19)}, model.OutcomeNoQuorum, -1},
		{"abstentions count as taking part", false, true, total,
			[]Count{c(10001, 11), c(0, 0), c(9999, 9)}, model.OutcomePassed, 0},
		{"ordinary: exactly half the area is not more than half", false, true, total,
			[]Count{c(10000, 11), c(10000, 9)}, model.OutcomeRejected, -1},
		{"ordinary: exactly half the heads is not more than half", false, true, total,
			[]Count{c(10001, 10), c(9999, 10)}, model.OutcomeRejected, -1},
		{"ordinary: one centi-m² and one head over half", false, true, total,
			[]Count{c(10001, 11), c(9999, 9)}, model.OutcomePassed, 0},
		{"ordinary: 反对 with the majority carries nothing", false, true, total,
			[]Count{c(5000, 5), c(15000, 15)}, model.OutcomeRejected, -1},
		{"special: exactly 3/4 of area and heads", true, true, total,
			[]Count{c(15000, 15), c(5000, 5)}, model.OutcomePassed, 0},
		{"special: one centi-m² under 3/4", true, true, total,
			[]Count{c(14999, 15), c(5001, 5)}, model.OutcomeRejected, -1},
		{"special: one head under 3/4", true, true, total,
			[]Count{c(15000, 14), c(5000, 6)}, model.OutcomeRejected, -1},
		{"special: a clear majority is not enough", true, true, total,
			[]Count{c(14000, 14), c(6000, 6)}, model.OutcomeRejected, -1},
		{"choices: a tie wins nothing", false, false, total,
			[]Count{c(10000, 10), c(10000, 10)}, model.OutcomeRejected, -1},
		{"choices: a three-way split wins nothing", false, false, total,
			[]Count{c(8000, 8), c(6000, 6), c(6000, 6)}, model.OutcomeRejected, -1},
		{"choices: the second choice wins", false, false, total,
			[]Count{c(4000, 4), c(12000, 12), c(4000, 4)}, model.OutcomePassed, 1},
		{"choices: area and heads disagree", false, false, total,
			[]Count{c(12000, 9), c(8000, 11)}, model.OutcomeRejected, -1},
		{"everyone takes part, everyone agrees", true, true, total,
			[]Count{c(30000, 30)}, model.OutcomePassed, 0},
		{"nobody takes part", false, true, total,
			[]Count{c(0, 0), c(0, 0), c(0, 0)}, model.OutcomeNoQuorum, -1},
		{"an empty roll has no quorum", false, true, c(0, 0),
			[]Count{c(0, 0)}, model.OutcomeNoQuorum, -1},
		// 120 million m², far beyond any compound: the products stay inside int64.
		{"large compound, exactly 2/3 and exactly 3/4", true, true, c(120_000_000_00, 30_000),
			[]Count{c(60_000_000_00, 15_000), c(20_000_000_00, 5_000)}, model.OutcomePassed, 0},
		{"large compound, one centi-m² under 3/4", true, true, c(120_000_000_00, 30_000),
			[]Count{c(59_999_999_99, 15_000), c(20_000_000_01, 5_000)}, model.OutcomeRejected, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			outcome, winner := Decide(tc.special, tc.yesNo, tc.total, tc.choices)
			if outcome != tc.outcome || winner != tc.winner {
				t.Fatalf("Decide = %s, %d; want %s, %d", outcome, winner, tc.outcome, tc.winner)
			}
		})
	}
}

func TestQuorumAndApprovesDirectly(t *testing.T) {
	// 2/3 of 10 heads is 6.67: 7 take part, 6 do not.
	if !Quorum(Count{300, 10}, Count{200, 7}) || Quorum(Count{300, 10}, Count{200, 6}) {
		t.Error("heads quorum of 10 owners")
	}
	// Nothing approves out of nothing.
	if Approves(false, Count{}, Count{}) || Approves(true, Count{}, Count{}) {
		t.Error("approval out of an empty participation")
	}
}

func TestSpecialMatters(t *testing.T) {
	want := map[string]bool{
		model.MatterOrdinary: false, model.MatterChangeFirm: false, model.MatterFundUse: false,
		model.MatterFundRaise: true, model.MatterRebuild: true, model.MatterCommonUse: true,
	}
	for _, m := range Matters() {
		if Special(m) != want[m] {
			t.Errorf("Special(%s) = %v", m, Special(m))
		}
		delete(want, m)
	}
	if len(want) != 0 {
		t.Errorf("matters not listed: %v", want)
	}
}
