package disclosure

import (
	"fmt"
	"regexp"

	"github.com/shopspring/decimal"

	"redprop/service"
)

// The rules of amounts on a board, stated once:
//
//   - Money (revenue lines, balances, totals, parking and other charges)
//     is yuan with at most two decimal places, to the fen. A value with
//     more digits is refused, never rounded: a board shows what the books
//     say.
//   - A fee standard is yuan per m² per month with at most four decimal
//     places (price bureaus publish rates such as 1.35 or 0.6825).
//   - Every amount is written as a string of digits ("1234.50"); numbers
//     in JSON, exponents, thousands separators and a leading "+" are
//     refused. Values go up to 999,999,999,999.99.
//   - Only balances (opening, closing) may be negative; lines, totals,
//     charges and rates are positive (totals may be zero).
//   - A household's fee is area (m², two decimals) × rate, rounded to the
//     fen half-up (0.005 becomes 0.01); the year is twelve times the
//     rounded month. Nothing is rounded anywhere else.
//   - Arithmetic is decimal throughout (shopspring/decimal); the database
//     keeps DECIMAL columns on MySQL and the digits as text on SQLite.
const (
	moneyScale = 2
	rateScale  = 4
)

var (
	amountForm = regexp.MustCompile(`^-?[0-9]{1,12}(\.[0-9]+)?$`)
	maxMoney   = decimal.RequireFromString("999999999999.99")
)

// amount reads a decimal of at most scale places; what it names is said
// in the message of its refusal.
func amount(s, what string, scale int32, negative bool) (decimal.Decimal, error) {
	bad := func(why string) error {
		return service.Invalid("bad_amount", fmt.Sprintf("%s「%s」%s", what, s, why))
	}
	if s == "" {
		return decimal.Zero, service.Invalid("bad_amount", what+"不能为空")
	}
	if !amountForm.MatchString(s) {
		return decimal.Zero, bad("不是有效金额，请写成如 1234.50 的数字")
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Zero, bad("不是有效金额，请写成如 1234.50 的数字")
	}
	if -d.Exponent() > scale && !d.Equal(d.Truncate(scale)) {
		return decimal.Zero, bad(fmt.Sprintf("最多保留 %d 位小数", scale))
	}
	if d.Abs().GreaterThan(maxMoney) {
		return decimal.Zero, bad("超出金额上限")
	}
	if d.IsNegative() && !negative {
		return decimal.Zero, bad("不能为负数")
	}
	return d.Truncate(scale), nil
}

// money reads yuan to the fen.
func money(s, what string, negative bool) (decimal.Decimal, error) {
	return amount(s, what, moneyScale, negative)
}

// Yuan writes money with two decimals, as the board shows it.
func Yuan(d decimal.Decimal) string { return d.StringFixed(moneyScale) }

// Rate writes a fee standard with two decimals, or as many as it has up
// to four.
func Rate(d decimal.Decimal) string {
	if d.Equal(d.Truncate(moneyScale)) {
		return d.StringFixed(moneyScale)
	}
	return d.Truncate(rateScale).String()
}

// MonthlyFee is a household's fee for a month: area × rate, rounded to the
// fen half-up.
func MonthlyFee(areaCentiM2 int64, rate decimal.Decimal) decimal.Decimal {
	area := decimal.New(areaCentiM2, -2)
	return area.Mul(rate).Round(moneyScale)
}

// YearlyFee is twelve rounded months.
func YearlyFee(areaCentiM2 int64, rate decimal.Decimal) decimal.Decimal {
	return MonthlyFee(areaCentiM2, rate).Mul(decimal.NewFromInt(12))
}

// areaOf reads an area in m² with at most two decimals.
func areaOf(s string) (int64, error) {
	d, err := amount(s, "面积", moneyScale, false)
	if err != nil {
		return 0, err
	}
	if !d.IsPositive() {
		return 0, service.Invalid("bad_amount", "面积须大于 0")
	}
	return d.Shift(moneyScale).IntPart(), nil
}
