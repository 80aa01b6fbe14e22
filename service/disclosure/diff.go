package disclosure

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"redprop/model"
	"redprop/service"
)

// Change kinds of a diff.
const (
	ChangeAdded   = "added"
	ChangeRemoved = "removed"
	ChangeChanged = "changed"
)

// FieldChange is one changed value: of the version (opening, closing,
// service level …) or of a line (unit, basis, detail …). Delta is set for
// amounts: to − from.
type FieldChange struct {
	Field string
	Label string
	From  string
	To    string
	Delta *decimal.Decimal
}

// LineChange is a line added, removed or changed between two versions.
// Lines are matched by kind and label (a repeated label by its
// occurrence).
type LineChange struct {
	Change string
	Kind   string
	Label  string
	From   *decimal.Decimal
	To     *decimal.Decimal
	Delta  *decimal.Decimal
	Fields []FieldChange
}

// Diff is what changed from one version to another of one chain.
type Diff struct {
	From, To  View
	Fields    []FieldChange
	Lines     []LineChange
	Unchanged int
}

// Diff compares version id with version from (0: the version it
// corrects). Both must be of one chain.
func (s *Service) Diff(ctx context.Context, a *service.Actor, id, from int64) (Diff, error) {
	to, err := s.Get(ctx, a, id)
	if err != nil {
		return Diff{}, err
	}
	if from == 0 {
		if to.SupersedesID == 0 {
			return Diff{}, errNoEarlier
		}
		from = to.SupersedesID
	}
	if from == id {
		return Diff{}, errCompareSelf
	}
	old, err := s.Get(ctx, a, from)
	if err != nil {
		return Diff{}, err
	}
	if old.CompoundID != to.CompoundID || old.Section != to.Section || old.Period != to.Period {
		return Diff{}, errOtherChain
	}
	d := Diff{From: old, To: to}
	if to.Section == model.DisclosureRevenue {
		for _, f := range []struct {
			field, label string
			a, b         model.Dec
		}{
			{"opening", "期初余额", old.Opening, to.Opening},
			{"income_total", "收入合计", old.IncomeTotal, to.IncomeTotal},
			{"expense_total", "支出合计", old.ExpenseTotal, to.ExpenseTotal},
			{"closing", "期末余额", old.Closing, to.Closing},
		} {
			if !f.a.Equal(f.b.Decimal) {
				delta := f.b.Sub(f.a.Decimal)
				d.Fields = append(d.Fields, FieldChange{Field: f.field, Label: f.label, From: Yuan(f.a.Decimal), To: Yuan(f.b.Decimal), Delta: &delta})
			}
		}
	}
	for _, f := range [][4]string{
		{"service_level", "服务等级", old.ServiceLevel, to.ServiceLevel},
		{"note", "说明", old.Note, to.Note},
	} {
		if f[2] != f[3] {
			d.Fields = append(d.Fields, FieldChange{Field: f[0], Label: f[1], From: f[2], To: f[3]})
		}
	}
	d.Lines, d.Unchanged = diffLines(old.Lines, to.Lines)
	// A resident reading what a correction changed has read the correction.
	return d, s.markRead(ctx, a, to.ID)
}

type lineKey struct {
	kind, label string
	n           int
}

func keyed(lines []model.DisclosureLine) ([]lineKey, map[lineKey]model.DisclosureLine) {
	seen := map[[2]string]int{}
	keys := make([]lineKey, 0, len(lines))
	by := map[lineKey]model.DisclosureLine{}
	for _, l := range lines {
		k := [2]string{l.Kind, l.Label}
		key := lineKey{l.Kind, l.Label, seen[k]}
		seen[k]++
		keys = append(keys, key)
		by[key] = l
	}
	return keys, by
}

// diffLines lists, in the new version's order, lines changed and added,
// then those removed; it counts the lines that stayed as they were.
func diffLines(old, cur []model.DisclosureLine) ([]LineChange, int) {
	oldKeys, oldBy := keyed(old)
	curKeys, curBy := keyed(cur)
	out := []LineChange{}
	same := 0
	for _, k := range curKeys {
		n := curBy[k]
		o, ok := oldBy[k]
		if !ok {
			out = append(out, LineChange{Change: ChangeAdded, Kind: k.kind, Label: k.label, To: amountOf(n)})
			continue
		}
		c := LineChange{Change: ChangeChanged, Kind: k.kind, Label: k.label, From: amountOf(o), To: amountOf(n)}
		if (c.From == nil) != (c.To == nil) || c.From != nil && !c.From.Equal(*c.To) {
			if c.From != nil && c.To != nil {
				delta := c.To.Sub(*c.From)
				c.Delta = &delta
			}
		}
		for _, f := range [][4]string{
			{"unit", "计费单位", o.Unit, n.Unit},
			{"basis", "收费依据", o.Basis, n.Basis},
			{"effective_on", "执行日期", day(o.EffectiveOn), day(n.EffectiveOn)},
			{"detail", "内容", o.Detail, n.Detail},
			{"attachments", "附件", fmt.Sprint(o.Attachments), fmt.Sprint(n.Attachments)},
		} {
			if f[2] != f[3] && !(f[0] == "attachments" && len(o.Attachments) == 0 && len(n.Attachments) == 0) {
				c.Fields = append(c.Fields, FieldChange{Field: f[0], Label: f[1], From: f[2], To: f[3]})
			}
		}
		if c.Delta == nil && len(c.Fields) == 0 && ((c.From == nil) == (c.To == nil)) {
			same++
			continue
		}
		out = append(out, c)
	}
	for _, k := range oldKeys {
		if _, ok := curBy[k]; !ok {
			out = append(out, LineChange{Change: ChangeRemoved, Kind: k.kind, Label: k.label, From: amountOf(oldBy[k])})
		}
	}
	return out, same
}

func amountOf(l model.DisclosureLine) *decimal.Decimal {
	if l.Amount == nil {
		return nil
	}
	v := l.Amount.Decimal
	return &v
}

func day(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}
