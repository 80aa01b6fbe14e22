package message

import (
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
)

// Event fields the default templates map (Event.Fields keys). "title" and
// "body" fall back to the event's own title and body, "time" to when the
// event was published.
const (
	FieldNumber       = "number"   // order number
	FieldCategory     = "category" // order category name
	FieldPlace        = "place"
	FieldTime         = "time"  // RFC 3339
	FieldState        = "state" // an order state (translated for phrase fields) or Chinese words
	FieldRemark       = "remark"
	FieldTitle        = "title"
	FieldBody         = "body"
	FieldMeetingTitle = "meeting_title"
	FieldMeetingTime  = "meeting_time" // RFC 3339, or two joined by "~"
	FieldMeetingPlace = "meeting_place"
	FieldMeetingID    = "meeting_id" // used in the meeting page
	FieldPublisher    = "publisher"  // who published a notice or disclosure
)

// Template is the WeChat subscribe-message template one kind is pushed as.
type Template struct {
	// ID is the template id from the mini-program console; empty means the
	// kind is not pushed (recorded as skipped, not_configured).
	ID string `yaml:"template_id" json:"template_id"`
	// Page opens when the push is tapped; {order_id} and {field} (any
	// event field) are replaced.
	Page string `yaml:"page" json:"page"`
	// LongTerm templates (public-service categories) need no per-push
	// consent, so no quota is counted for them.
	LongTerm bool `yaml:"long_term" json:"long_term"`
	// ResendUnknown sends again a push whose outcome was lost (a timeout,
	// or the worker stopped mid-send) once ReconcileAfter has passed with
	// no delivery event from WeChat. A duplicate is then possible, and it
	// costs another unit of quota; without it the push may be lost. On by
	// default for rating requests only (worker.go's state diagram).
	ResendUnknown bool `yaml:"resend_unknown" json:"resend_unknown"`
	// Fields maps the template's keys (thing1, time2 …, whose prefix is the
	// WeChat field type) to event fields: each a value the kind offers, of
	// a kind the key's type can hold (mapping.go checks both).
	Fields map[string]string `yaml:"fields" json:"fields"`
}

// DefaultTemplates are the field mappings of the kinds, without
// template ids (set them from the console's 我的模板).
func DefaultTemplates() map[string]Template {
	orderPage := "pages/order/detail?id={order_id}"
	return map[string]Template{
		KindNewReport: {Page: orderPage, Fields: map[string]string{ // 新工单提醒
			"character_string1": FieldNumber, "thing2": FieldCategory, "thing3": FieldPlace,
			"time4": FieldTime, "thing5": FieldTitle,
		}},
		KindProgress: {Page: orderPage, Fields: map[string]string{ // 工单进度通知
			"character_string1": FieldNumber, "phrase2": FieldState, "thing3": FieldCategory,
			"time4": FieldTime, "thing5": FieldTitle,
		}},
		KindRating: {Page: orderPage, ResendUnknown: true, Fields: map[string]string{ // 满意度评价提醒
			"character_string1": FieldNumber, "thing2": FieldCategory, "time3": FieldTime, "thing4": FieldTitle,
		}},
		KindMeeting: {Page: "pages/meeting/detail?id={meeting_id}", Fields: map[string]string{ // 会议通知
			"thing1": FieldMeetingTitle, "time2": FieldMeetingTime, "thing3": FieldMeetingPlace, "thing4": FieldTitle,
		}},
		KindNotice: {Page: "pages/notice/detail?id={notice_id}", Fields: map[string]string{ // 公告通知
			"thing1": FieldTitle, "thing2": FieldPublisher, "time3": FieldTime, "thing4": FieldBody,
		}},
		KindEvaluation: {Page: "pages/evaluation/index", Fields: map[string]string{ // 考核结果通知
			"thing1": FieldTitle, "phrase2": FieldState, "time3": FieldTime, "thing4": FieldBody,
		}},
	}
}

var templateKey = regexp.MustCompile(`^[a-z_]+[0-9]+$`)

func (t Template) validate(kind string) error {
	if len(t.ID) > 64 {
		return &TemplateError{Kind: kind, Reason: "template id longer than 64 characters"}
	}
	return checkFields(false, kind, t.Fields)
}

// render turns an event into the template's values, each within WeChat's
// limits for its field type (cut by characters, never bytes), and the page.
func (t Template) render(p payload, orderID int64) (map[string]string, string) {
	data := make(map[string]string, len(t.Fields))
	for key, from := range t.Fields {
		v := p.Fields[from]
		if v == "" {
			switch from {
			case FieldTitle:
				v = p.Title
			case FieldBody:
				v = p.Body
			}
		}
		if from == FieldState && stateWords[v] != "" {
			v = stateWords[v] // a thing keyword shows the state as words too
		}
		data[key] = renderValue(renderType(key, from), v, p.At)
	}
	page := p.Page
	if page == "" {
		page = t.Page
	}
	return data, expandPage(page, orderID, p.Fields)
}

var pageVar = regexp.MustCompile(`\{([a-z_]+)\}`)

func expandPage(page string, orderID int64, fields map[string]string) string {
	return pageVar.ReplaceAllStringFunc(page, func(m string) string {
		name := m[1 : len(m)-1]
		if name == "order_id" && orderID != 0 {
			return strconv.FormatInt(orderID, 10)
		}
		return urlSafe(fields[name])
	})
}

// urlSafe keeps what may stand in a page's query unescaped.
func urlSafe(s string) string {
	return keep(s, func(r rune) bool {
		return r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_.", r))
	})
}

// renderType is the type a value is fitted to: the keyword's, except
// that the untyped keys of old-style service-account templates show times
// as times.
func renderType(key, from string) string {
	if untypedKey(key) && (from == FieldTime || from == FieldMeetingTime) {
		return "time"
	}
	return fieldType(key)
}

// fieldType is the WeChat type a template key names: thing1 → thing.
func fieldType(key string) string { return strings.TrimRightFunc(key, unicode.IsDigit) }

// stateWords are order states as the ≤ 5 Chinese characters of a phrase.
var stateWords = map[string]string{
	model.StateSubmitted: "已提交", model.StateVerified: "已核实", model.StateDispatched: "已派单",
	model.StateAccepted: "已受理", model.StateInProgress: "处理中", model.StateCompleted: "已办结",
	model.StateConfirmed: "已验收", model.StateClosed: "已关闭", model.StateRejected: "未受理",
	model.StateMerged: "已合并", model.StateCancelled: "已撤销",
}

var (
	numberPart = regexp.MustCompile(`\d+(\.\d+)?`)
	amountPart = regexp.MustCompile(`\d{1,10}(\.\d{1,2})?`)
	wxTime     = regexp.MustCompile(`^(\d{4}年\d{1,2}月\d{1,2}日 )?\d{1,2}:\d{2}$`)
	wxDate     = regexp.MustCompile(`^\d{4}年\d{1,2}月\d{1,2}日$`)
)

// renderValue fits v to WeChat's rules for typ. Empty results become a
// placeholder of the type: WeChat refuses empty values.
func renderValue(typ, v string, at time.Time) string {
	v = clean(v)
	switch typ {
	case "phrase": // ≤ 5, Chinese characters only
		if w, ok := stateWords[v]; ok {
			v = w
		}
		return or(service.CutRunes(keep(v, isHan), 5), "无")
	case "name": // ≤ 10 Chinese, or ≤ 20 Latin
		if han := keep(v, func(r rune) bool { return isHan(r) || r == '·' }); strings.Trim(han, "·") != "" {
			return service.CutRunes(han, 10)
		}
		return or(strings.TrimSpace(service.CutRunes(strings.TrimSpace(keep(v, isPrintableASCII)), 20)), "无")
	case "character_string": // ≤ 32 digits, letters, symbols
		return or(service.CutRunes(keep(v, func(r rune) bool { return r > ' ' && r <= '~' }), 32), "-")
	case "number": // ≤ 32 digits, an optional decimal part
		n := numberPart.FindString(v)
		if len(n) > 32 {
			n = strings.TrimRight(n[:32], ".")
		}
		return or(n, "0")
	case "letter": // ≤ 32 letters
		return or(service.CutRunes(keep(v, isASCIILetter), 32), "NA")
	case "symbol": // ≤ 5 symbols
		return or(service.CutRunes(keep(v, func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSymbol(r) }), 5), "-")
	case "phone_number": // ≤ 17 digits and +-()
		p := strings.TrimSpace(keep(v, func(r rune) bool { return r >= '0' && r <= '9' || strings.ContainsRune("+-() ", r) }))
		return or(strings.TrimSpace(service.CutRunes(p, 17)), "-")
	case "car_number":
		return or(carNumber(v), "无")
	case "amount":
		return or(amountPart.FindString(v), "0")
	case "time":
		return timeValue(v, at, "2006年1月2日 15:04", wxTime)
	case "date":
		return timeValue(v, at, "2006年1月2日", wxDate)
	}
	// thing and any type we do not know: ≤ 20 characters.
	if len([]rune(v)) > 20 {
		v = service.CutRunes(v, 19) + "…"
	}
	return or(v, "无")
}

// timeValue formats RFC 3339 times (one, or a range joined by "~") the
// way WeChat wants them; anything else falls back to the event's time.
func timeValue(v string, at time.Time, layout string, ok *regexp.Regexp) string {
	parts := strings.Split(v, "~")
	if v != "" && len(parts) <= 2 {
		out := make([]string, 0, len(parts))
		for _, p := range parts {
			p = strings.TrimSpace(p)
			if t, err := time.Parse(time.RFC3339, p); err == nil {
				out = append(out, t.In(calendar.Beijing).Format(layout))
			} else if ok.MatchString(p) {
				out = append(out, p)
			} else {
				break
			}
		}
		if len(out) == len(parts) {
			return strings.Join(out, "~")
		}
	}
	return at.In(calendar.Beijing).Format(layout)
}

// clean turns control characters into spaces, drops emoji (which
// WeChat's text types refuse with 47003) and trims. Emoji are the
// characters outside the basic plane and, inside it, the pictographic
// symbols (☀ ☎ ✅ ❤ ⚠ …), the variation selectors and the combining
// marks that dress them.
func clean(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == unicode.ReplacementChar || r > 0xFFFF || unicode.Is(unicode.Cf, r) || emojiLike(r):
		case unicode.IsControl(r) || unicode.IsSpace(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// emojiLike reports the basic-plane characters that render as emoji:
// Miscellaneous Symbols, Dingbats, Misc Symbols and Arrows (U+2600–U+27BF,
// U+2B00–U+2BFF), the clock and media symbols (U+2300–U+23FF), variation
// selectors (U+FE00–U+FE0F) and the combining enclosing keycap (U+20E3).
func emojiLike(r rune) bool {
	switch {
	case r >= 0x2300 && r <= 0x23FF, r >= 0x2600 && r <= 0x27BF, r >= 0x2B00 && r <= 0x2BFF:
		return true
	case r >= 0xFE00 && r <= 0xFE0F, r == 0x20E3, r == 0x00A9 || r == 0x00AE || r == 0x2122:
		return true
	}
	return false
}

// carNumber keeps letters and digits, with a Chinese character allowed
// only first (the province) and last (学, 警 …), at most 8 in all.
func carNumber(v string) string {
	rs := []rune(keep(v, func(r rune) bool { return isHan(r) || r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) }))
	var out []rune
	for i, r := range rs {
		if isHan(r) && i != 0 && i != len(rs)-1 {
			continue
		}
		out = append(out, r)
	}
	if len(out) > 8 {
		out = out[:8] // the last character is then a letter or digit
	}
	return string(out)
}

func keep(s string, ok func(rune) bool) string {
	var b strings.Builder
	for _, r := range s {
		if ok(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func or(v, placeholder string) string {
	if v == "" {
		return placeholder
	}
	return v
}

func isHan(r rune) bool { return unicode.Is(unicode.Han, r) }

func isASCIILetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }

func isPrintableASCII(r rune) bool { return r >= ' ' && r <= '~' }
