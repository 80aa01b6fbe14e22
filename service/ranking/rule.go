package ranking

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"redprop/model"
)

// Rule modes: the best and worst N of each group, or fixed thresholds.
const (
	ModeRank      = "rank"
	ModeThreshold = "threshold"
)

// Rule is how a formula turns scores into the lists and stars. It is part
// of the formula's configuration; each ranking keeps the rule it applied.
type Rule struct {
	Mode string `json:"mode"`
	// Top and Bottom are the red and black places per group (rank mode).
	// A group smaller than both together gives each at most half of it,
	// so no line is red and black at once; equal scores share a rank.
	Top    int `json:"top"`
	Bottom int `json:"bottom"`
	// RedMin and BlackBelow are scores × 100 (threshold mode): red at or
	// above RedMin, black below BlackBelow.
	RedMin     int64 `json:"red_min"`
	BlackBelow int64 `json:"black_below"`
	// GroupBy ranks within each street or district of the scope instead
	// of the whole scope ("" ranks the scope as one group).
	GroupBy string `json:"group_by,omitempty"`
	// StarBands are the least yearly scores × 100 of 5, 4, 3 and 2 stars,
	// descending; below the last is 1 star.
	StarBands []int64 `json:"star_bands"`
	// MinQuarters is how many sufficient quarters a firm needs in a year
	// to be rated.
	MinQuarters int `json:"min_quarters"`
}

// DefaultRule is the rule of a formula that states none.
func DefaultRule() Rule {
	return Rule{Mode: ModeRank, Top: 3, Bottom: 3, StarBands: []int64{9000, 8000, 7000, 6000}, MinQuarters: 2}
}

// Valid reports what is wrong with a rule ("" when nothing).
func (r Rule) Valid() string {
	switch r.Mode {
	case ModeRank:
		if r.Top < 0 || r.Bottom < 0 || r.Top+r.Bottom == 0 {
			return "rank mode needs top or bottom places"
		}
	case ModeThreshold:
		if r.RedMin <= r.BlackBelow || r.RedMin > 10000 || r.BlackBelow < 0 {
			return "threshold mode needs 0 ≤ black_below < red_min ≤ 10000"
		}
	default:
		return fmt.Sprintf("unknown mode %q", r.Mode)
	}
	switch r.GroupBy {
	case "", model.LevelStreet, model.LevelDistrict:
	default:
		return fmt.Sprintf("unknown group_by %q", r.GroupBy)
	}
	if len(r.StarBands) != 4 || !slices.IsSortedFunc(r.StarBands, func(a, b int64) int { return cmp.Compare(b, a) }) {
		return "star_bands needs four descending scores"
	}
	if r.MinQuarters < 1 || r.MinQuarters > 4 {
		return "min_quarters must be 1 to 4"
	}
	return ""
}

func (r Rule) json() string {
	b, _ := json.Marshal(r)
	return string(b)
}

// Scope is a node of the tree a ranking is published for.
type Scope struct {
	Kind string // street, district or city
	ID   int64
}

// Component is one figure of a score, as the score card computed it.
type Component struct {
	Key          string `json:"key"`
	Name         string `json:"name"`
	Numerator    int64  `json:"numerator"`
	Denominator  int64  `json:"denominator"`
	PointsCenti  int64  `json:"points_centi"`
	Insufficient bool   `json:"insufficient"`
}

// ScoreRow is one firm × compound × quarter score.
type ScoreRow struct {
	ScoreID    int64
	FirmID     int64
	CompoundID int64
	Ancestry   model.Ancestry
	Centi      int64 // 0–10000
	// Insufficient rows are never ranked; Reason says why, in Chinese.
	Insufficient bool
	Reason       string
	Components   []Component
}

// ScoreSet is the scores of one quarter in one scope, with the formula
// they were computed by and its rule.
type ScoreSet struct {
	FormulaVersion int64
	Rule           Rule
	Rows           []ScoreRow
}

// groupKey is the group a line is ranked in.
func (r Rule) groupKey(a model.Ancestry) int64 {
	switch r.GroupBy {
	case model.LevelStreet:
		return a.StreetID
	case model.LevelDistrict:
		return a.DistrictID
	}
	return 0
}

func componentsJSON(cs []Component) string {
	if len(cs) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(cs)
	return string(b)
}

// listLines turns a quarter's scores into the lines of a draft list.
func listLines(rule Rule, rows []ScoreRow) []model.RankingLine {
	lines := make([]model.RankingLine, 0, len(rows))
	for _, row := range rows {
		l := model.RankingLine{FirmID: row.FirmID, CompoundID: row.CompoundID, ScoreID: row.ScoreID,
			ScoreCenti: row.Centi, Placement: model.PlacementNone, Components: componentsJSON(row.Components), Ancestry: row.Ancestry}
		if row.Insufficient {
			l.Placement, l.Reason = model.PlacementExcluded, insufficientReason(row)
		}
		lines = append(lines, l)
	}
	place(rule, lines)
	return lines
}

func insufficientReason(row ScoreRow) string {
	if row.Reason != "" {
		return row.Reason
	}
	var names []string
	for _, c := range row.Components {
		if c.Insufficient {
			names = append(names, c.Name)
		}
	}
	if len(names) == 0 {
		return "样本不足，不参加排名"
	}
	return "样本不足，不参加排名：" + strings.Join(names, "、")
}

// place ranks the lines still in play (not excluded, not removed) within
// their groups and sets their placement by the rule. Lines are ordered
// first: by group, score descending, firm and compound, so that the same
// scores always give the same lines.
func place(rule Rule, lines []model.RankingLine) {
	slices.SortStableFunc(lines, func(a, b model.RankingLine) int {
		return cmp.Or(cmp.Compare(rule.groupKey(a.Ancestry), rule.groupKey(b.Ancestry)), cmp.Compare(b.ScoreCenti, a.ScoreCenti),
			cmp.Compare(a.FirmID, b.FirmID), cmp.Compare(a.CompoundID, b.CompoundID))
	})
	groups := map[int64][]int{}
	var order []int64
	for i, l := range lines {
		if l.Placement == model.PlacementExcluded || l.Placement == model.PlacementRemoved {
			lines[i].RankNo, lines[i].GroupSize = 0, 0
			continue
		}
		k := rule.groupKey(l.Ancestry)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	for _, k := range order {
		idx := groups[k]
		n := len(idx)
		top, bottom := min(rule.Top, n/2), min(rule.Bottom, n/2)
		for pos, i := range idx {
			l := &lines[i]
			// Competition ranks: equal scores share the better rank, and
			// the rank from the bottom likewise.
			rank := pos + 1
			for rank > 1 && lines[idx[rank-2]].ScoreCenti == l.ScoreCenti {
				rank--
			}
			fromBottom := n - pos
			for fromBottom > 1 && lines[idx[n-fromBottom+1]].ScoreCenti == l.ScoreCenti {
				fromBottom--
			}
			l.RankNo, l.GroupSize = rank, n
			var red, black bool
			if rule.Mode == ModeThreshold {
				red, black = l.ScoreCenti >= rule.RedMin, l.ScoreCenti < rule.BlackBelow
			} else {
				red, black = rank <= top, fromBottom <= bottom
			}
			switch {
			case red && !black:
				l.Placement = model.PlacementRed
			case black && !red:
				l.Placement = model.PlacementBlack
			default:
				l.Placement = model.PlacementNone
			}
		}
	}
}

// Stars of a yearly score × 100 by the rule's bands.
func (r Rule) stars(centi int64) int {
	for i, band := range r.StarBands {
		if centi >= band {
			return 5 - i
		}
	}
	return 1
}

// starLines turns a year's quarterly scores into the lines of a draft
// star rating: per firm, the mean over the quarters in which it had
// sufficient scores of its compounds' mean score (integers, rounded half
// up), rated when it had at least MinQuarters of them.
func starLines(rule Rule, quarters []ScoreSet) []model.RankingLine {
	type firmYear struct {
		sum, n int64
		anc    model.Ancestry
	}
	years := map[int64]*firmYear{}
	var firms []int64
	for _, q := range quarters {
		per := map[int64][2]int64{} // firm → sum, count of its sufficient compound scores
		var seen []int64
		for _, row := range q.Rows {
			fy := years[row.FirmID]
			if fy == nil {
				fy = &firmYear{anc: row.Ancestry}
				years[row.FirmID] = fy
				firms = append(firms, row.FirmID)
			}
			if row.Insufficient {
				continue
			}
			if _, ok := per[row.FirmID]; !ok {
				seen = append(seen, row.FirmID)
			}
			p := per[row.FirmID]
			per[row.FirmID] = [2]int64{p[0] + row.Centi, p[1] + 1}
		}
		for _, f := range seen {
			p := per[f]
			years[f].sum += roundDiv(p[0], p[1])
			years[f].n++
		}
	}
	slices.Sort(firms)
	lines := make([]model.RankingLine, 0, len(firms))
	for _, f := range firms {
		fy := years[f]
		// A firm's line carries the ancestry they share: the scope's own.
		l := model.RankingLine{FirmID: f, Components: "[]", Ancestry: model.Ancestry{CityID: fy.anc.CityID}}
		if fy.n < int64(rule.MinQuarters) {
			l.Placement = model.PlacementExcluded
			l.Reason = fmt.Sprintf("全年有效季度评分 %d 个，少于 %d 个，不参加星级评定", fy.n, rule.MinQuarters)
		} else {
			l.ScoreCenti = roundDiv(fy.sum, fy.n)
			l.Placement, l.Stars = model.PlacementRated, rule.stars(l.ScoreCenti)
		}
		lines = append(lines, l)
	}
	slices.SortStableFunc(lines, func(a, b model.RankingLine) int {
		return cmp.Or(cmp.Compare(b.ScoreCenti, a.ScoreCenti), cmp.Compare(a.FirmID, b.FirmID))
	})
	rank := 0
	for i := range lines {
		if lines[i].Placement != model.PlacementRated {
			continue
		}
		rank++
		lines[i].RankNo = rank
		if i > 0 && lines[i-1].Placement == model.PlacementRated && lines[i-1].ScoreCenti == lines[i].ScoreCenti {
			lines[i].RankNo = lines[i-1].RankNo
		}
	}
	return lines
}

// roundDiv is a / b rounded half up, for non-negative a and positive b.
func roundDiv(a, b int64) int64 {
	if b == 0 {
		return 0
	}
	return (2*a + b) / (2 * b)
}
