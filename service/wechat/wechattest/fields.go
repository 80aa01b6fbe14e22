package wechattest

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

var (
	numberRe = regexp.MustCompile(`^\d+(\.\d+)?$`)
	amountRe = regexp.MustCompile(`^[¥￥$€£]?\d{1,10}(\.\d{1,2})?元?$`)
	// One point in time; a field may hold two joined by "~".
	timeRe = regexp.MustCompile(`^(\d{4}年\d{1,2}月\d{1,2}日\s?)?\d{1,2}:\d{2}(:\d{2})?$`)
	dateRe = regexp.MustCompile(`^\d{4}年\d{1,2}月\d{1,2}日(\s?\d{1,2}:\d{2}(:\d{2})?)?$`)
)

// FieldOK applies WeChat's limits for a subscribe-message value to the
// type its key names (thing1 → thing), counting characters, not bytes.
// Types the fake does not know pass when not empty.
func FieldOK(key, value string) bool {
	n := utf8.RuneCountInString(value)
	if n == 0 || strings.ContainsFunc(value, emoji) {
		return false // developers meet 47003 for emoji in any field
	}
	switch strings.TrimRightFunc(key, unicode.IsDigit) {
	case "thing":
		return n <= 20
	case "number":
		return n <= 32 && numberRe.MatchString(value)
	case "letter":
		return n <= 32 && all(value, isASCIILetter)
	case "character_string":
		return n <= 32 && all(value, func(r rune) bool { return r > ' ' && r <= '~' })
	case "symbol":
		return n <= 5 && all(value, func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSymbol(r) })
	case "phrase":
		return n <= 5 && all(value, isHan)
	case "name":
		if all(value, func(r rune) bool { return isHan(r) || r == '·' }) {
			return n <= 10
		}
		return n <= 20 && all(value, func(r rune) bool { return r >= ' ' && r <= '~' })
	case "amount":
		return amountRe.MatchString(value)
	case "phone_number":
		return n <= 17 && all(value, func(r rune) bool { return r >= '0' && r <= '9' || strings.ContainsRune("+-() ", r) })
	case "car_number":
		return n <= 8 && carNumber(value)
	case "time":
		return timeRange(timeRe, value)
	case "date":
		return timeRange(dateRe, value)
	}
	return true
}

// emoji are the characters outside the basic plane and the pictographs,
// variation selectors and keycaps inside it.
func emoji(r rune) bool {
	return r > 0xFFFF || r >= 0x2300 && r <= 0x23FF || r >= 0x2600 && r <= 0x27BF || r >= 0x2B00 && r <= 0x2BFF ||
		r >= 0xFE00 && r <= 0xFE0F || r == 0x20E3
}

func all(s string, ok func(rune) bool) bool {
	for _, r := range s {
		if !ok(r) {
			return false
		}
	}
	return true
}

func isHan(r rune) bool { return unicode.Is(unicode.Han, r) }

func isASCIILetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }

func isASCIIAlnum(r rune) bool { return isASCIILetter(r) || r >= '0' && r <= '9' }

// carNumber: letters and digits, with a Chinese character allowed first
// (the province) and last (学, 警, 挂…).
func carNumber(s string) bool {
	rs := []rune(s)
	for i, r := range rs {
		if !isASCIIAlnum(r) && !(isHan(r) && (i == 0 || i == len(rs)-1)) {
			return false
		}
	}
	return true
}

func timeRange(re *regexp.Regexp, s string) bool {
	parts := strings.Split(s, "~")
	if len(parts) > 2 {
		return false
	}
	for _, p := range parts {
		if !re.MatchString(strings.TrimSpace(p)) {
			return false
		}
	}
	return true
}
