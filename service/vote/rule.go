package vote

import "redprop/model"

// Count is an amount of owners measured both ways 民法典 art. 278 asks:
// by the area of their households (专有部分面积, m² × 100) and by head
// (人数).
type Count struct {
	AreaCentiM2 int64
	Heads       int64
}

// Special reports whether a matter needs 3/4 rather than a simple majority
// of those who took part: items (六) to (八) of 民法典 art. 278 ¶1 — raising
// maintenance funds, rebuilding, changing the use of common parts. Using
// maintenance funds (五) and engaging or dismissing the firm (四) need
// more than half, like every other matter.
func Special(matter string) bool {
	switch matter {
	case model.MatterFundRaise, model.MatterRebuild, model.MatterCommonUse:
		return true
	}
	return false
}

// NeedsThreeQuarters reports whether v is decided by 3/4: by law for its
// matter, or because its creator asked so.
func NeedsThreeQuarters(v *model.Vote) bool { return Special(v.Matter) || v.Strict }

// Matters lists the matters a vote may decide.
func Matters() []string {
	return []string{model.MatterOrdinary, model.MatterChangeFirm, model.MatterFundUse,
		model.MatterFundRaise, model.MatterRebuild, model.MatterCommonUse}
}

// Quorum reports whether owners holding at least 2/3 of the total area
// and at least 2/3 of the owners by head took part. An empty roll never
// has a quorum. Integer cross-multiplication: no rounding anywhere.
func Quorum(total, voted Count) bool {
	if total.AreaCentiM2 <= 0 || total.Heads <= 0 {
		return false
	}
	return voted.AreaCentiM2*3 >= total.AreaCentiM2*2 && voted.Heads*3 >= total.Heads*2
}

// Approves reports whether got, out of the voted, carries a matter: more
// than half of both the area and the heads that took part, or at least
// 3/4 of both for a special matter.
func Approves(special bool, voted, got Count) bool {
	if voted.AreaCentiM2 <= 0 || voted.Heads <= 0 {
		return false
	}
	if special {
		return got.AreaCentiM2*4 >= voted.AreaCentiM2*3 && got.Heads*4 >= voted.Heads*3
	}
	return got.AreaCentiM2*2 > voted.AreaCentiM2 && got.Heads*2 > voted.Heads
}

// Decide applies art. 278 to the tallies of a closed vote. With yesNo only
// the first choice (同意) can carry the vote; otherwise the choice that
// reaches the majority wins (at most one can: each needs more than half).
// It returns the outcome and the winning choice, or -1.
func Decide(special, yesNo bool, total Count, choices []Count) (string, int) {
	var voted Count
	for _, c := range choices {
		voted.AreaCentiM2 += c.AreaCentiM2
		voted.Heads += c.Heads
	}
	if !Quorum(total, voted) {
		return model.OutcomeNoQuorum, -1
	}
	for i, c := range choices {
		if yesNo && i > 0 {
			break
		}
		if Approves(special, voted, c) {
			return model.OutcomePassed, i
		}
	}
	return model.OutcomeRejected, -1
}
