package disclosure

import (
	"fmt"
	"strings"

	"github.com/shopspring/decimal"

	"redprop/model"
	"redprop/service"
)

// Mismatch is one sum of a revenue report that does not add up: what was
// stated, what the lines (or balances) give, and the difference.
type Mismatch struct {
	Check    string `json:"check"` // income_total | expense_total | closing
	Stated   string `json:"stated"`
	Computed string `json:"computed"`
	Diff     string `json:"difference"`
}

// revenueLines checks a revenue report and its arithmetic: the income
// lines sum to the income total, the expense lines to the expense total,
// and closing = opening + income − expenses, each to the fen. A report
// that does not add up is refused with every sum that fails named.
func (s *Service) revenueLines(d *model.Disclosure, in PublishInput) ([]model.DisclosureLine, error) {
	period := strings.TrimSpace(in.Period)
	start, _, err := parsePeriod(period)
	if err != nil {
		return nil, err
	}
	if start.After(today(s.clock.Now())) {
		return nil, errFuture
	}
	d.Period = period
	if len(in.Income)+len(in.Expenses) == 0 {
		return nil, errNoLines
	}
	if len(in.Income)+len(in.Expenses) > maxLines {
		return nil, errTooMany
	}
	var lines []model.DisclosureLine
	add := func(kind, what string, group []LineInput) error {
		for _, it := range group {
			l, err := line(kind, len(lines), it, what)
			if err != nil {
				return err
			}
			m, err := money(strings.TrimSpace(it.Amount), fmt.Sprintf("%s「%s」的金额", what, l.Label), false)
			if err != nil {
				return err
			}
			if !m.IsPositive() {
				return service.Invalid("bad_amount", fmt.Sprintf("%s「%s」的金额须大于 0", what, l.Label))
			}
			l.Amount, l.Basis, l.Unit, l.EffectiveOn = decp(m), "", "", nil
			lines = append(lines, l)
		}
		return nil
	}
	if err := add(model.LineIncome, "收入项目", in.Income); err != nil {
		return nil, err
	}
	if err := add(model.LineExpense, "支出项目", in.Expenses); err != nil {
		return nil, err
	}
	if err := unique(lines, "收支项目"); err != nil {
		return nil, err
	}
	opening, err := money(strings.TrimSpace(in.Opening), "期初余额", true)
	if err != nil {
		return nil, err
	}
	income, err := money(strings.TrimSpace(in.IncomeTotal), "收入合计", false)
	if err != nil {
		return nil, err
	}
	expense, err := money(strings.TrimSpace(in.ExpenseTotal), "支出合计", false)
	if err != nil {
		return nil, err
	}
	closing, err := money(strings.TrimSpace(in.Closing), "期末余额", true)
	if err != nil {
		return nil, err
	}
	var inc, exp []model.DisclosureLine
	for _, l := range lines {
		if l.Kind == model.LineIncome {
			inc = append(inc, l)
		} else {
			exp = append(exp, l)
		}
	}
	if err := checkArithmetic(opening, income, expense, closing, sum(inc), sum(exp)); err != nil {
		return nil, err
	}
	d.Opening, d.IncomeTotal, d.ExpenseTotal, d.Closing = model.NewDec(opening), model.NewDec(income), model.NewDec(expense), model.NewDec(closing)
	return lines, nil
}

// checkArithmetic is the check of a report's sums; the message names
// each that fails, in Chinese, with the figures.
func checkArithmetic(opening, income, expense, closing, incomeLines, expenseLines decimal.Decimal) error {
	var bad []Mismatch
	var msgs []string
	if !incomeLines.Equal(income) {
		bad = append(bad, Mismatch{"income_total", Yuan(income), Yuan(incomeLines), Yuan(income.Sub(incomeLines))})
		msgs = append(msgs, fmt.Sprintf("收入明细合计 %s 元，与填报的收入合计 %s 元不符（相差 %s 元）",
			Yuan(incomeLines), Yuan(income), Yuan(income.Sub(incomeLines).Abs())))
	}
	if !expenseLines.Equal(expense) {
		bad = append(bad, Mismatch{"expense_total", Yuan(expense), Yuan(expenseLines), Yuan(expense.Sub(expenseLines))})
		msgs = append(msgs, fmt.Sprintf("支出明细合计 %s 元，与填报的支出合计 %s 元不符（相差 %s 元）",
			Yuan(expenseLines), Yuan(expense), Yuan(expense.Sub(expenseLines).Abs())))
	}
	want := opening.Add(income).Sub(expense)
	if !want.Equal(closing) {
		bad = append(bad, Mismatch{"closing", Yuan(closing), Yuan(want), Yuan(closing.Sub(want))})
		msgs = append(msgs, fmt.Sprintf("期初余额 %s 元 + 收入合计 %s 元 − 支出合计 %s 元 = %s 元，与填报的期末余额 %s 元不符（相差 %s 元）",
			Yuan(opening), Yuan(income), Yuan(expense), Yuan(want), Yuan(closing), Yuan(closing.Sub(want).Abs())))
	}
	if len(bad) == 0 {
		return nil
	}
	return service.Unprocessable("revenue_mismatch", "公共收益报告账目不平："+strings.Join(msgs, "；")).
		WithDetail(map[string]any{"mismatches": bad})
}
