package message

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"redprop/service/wechat"
)

// A template picked from WeChat's library has its own keywords (thing1,
// time2 …); which of our values goes to which keyword is the operator's
// configuration. Here are the values each kind offers, which keyword types
// can hold each, the check of a mapping when the service is built, and the
// check against the account's own template list at start.

// orderValues are what every order-like event (orders, action items,
// wishes) fills.
var orderValues = []string{FieldNumber, FieldCategory, FieldPlace, FieldTime, FieldState, FieldTitle, FieldBody}

// kindValues are the values a template of each kind may map.
var kindValues = map[string][]string{
	KindNewReport:  orderValues,
	KindProgress:   orderValues,
	KindRating:     orderValues,
	KindMeeting:    {FieldMeetingTitle, FieldMeetingTime, FieldMeetingPlace, FieldTitle, FieldBody, FieldTime},
	KindNotice:     {FieldTitle, FieldBody, FieldTime, FieldPublisher, FieldPlace},
	KindEvaluation: {FieldTitle, FieldState, FieldTime, FieldBody},
}

// valueTypes are the keyword types able to hold each value. Order numbers
// mix letters and digits (GD202611230001), so a number or letter keyword
// cannot; Chinese text fits thing, and a category or state the 5 Chinese
// characters of a phrase; times fit time and date.
var valueTypes = map[string][]string{
	FieldNumber:       {"character_string", "thing"},
	FieldCategory:     {"thing", "phrase"},
	FieldPlace:        {"thing"},
	FieldTime:         {"time", "date"},
	FieldState:        {"phrase", "thing"},
	FieldTitle:        {"thing"},
	FieldBody:         {"thing"},
	FieldMeetingTitle: {"thing"},
	FieldMeetingTime:  {"time", "date"},
	FieldMeetingPlace: {"thing"},
	FieldPublisher:    {"thing", "name"},
}

// keywordTypes are WeChat's keyword types (WECHAT.md) and what each holds;
// renderValue cuts and shapes values to these when a push is sent.
var keywordTypes = map[string]string{
	"thing":            "≤ 20 characters",
	"phrase":           "≤ 5 Chinese characters",
	"character_string": "≤ 32 letters, digits and symbols",
	"number":           "≤ 32 digits",
	"letter":           "≤ 32 letters",
	"symbol":           "≤ 5 symbols",
	"name":             "a name of ≤ 10 Chinese or ≤ 20 Latin characters",
	"amount":           "an amount of money",
	"phone_number":     "a phone number of ≤ 17 characters",
	"car_number":       "a number plate of ≤ 8 characters",
	"time":             "a time such as 2026年11月22日 15:01",
	"date":             "a date such as 2026年11月22日",
}

// untypedKey is a keyword of the service account's old-style templates
// (first, keyword1 …, remark): any value, cut like thing.
func untypedKey(key string) bool {
	return key == "first" || key == "remark" || fieldType(key) == "keyword" && key != "keyword"
}

// TemplateError is a template configuration that cannot work, or that
// disagrees with the account's own template: it names the kind and, when
// the fault is in the mapping, the keyword (empty when it is the id).
type TemplateError struct {
	OA      bool // the service account's template message, not the subscribe message
	Kind    string
	Keyword string
	Reason  string
}

func (e *TemplateError) Error() string {
	what := "template"
	if e.OA {
		what = "service-account template"
	}
	if e.Keyword == "" {
		return fmt.Sprintf("%s %s: %s", what, e.Kind, e.Reason)
	}
	return fmt.Sprintf("%s %s, keyword %s: %s", what, e.Kind, e.Keyword, e.Reason)
}

// ParseFields reads a mapping written as "thing1=title,time2=time":
// keyword=value pairs, comma-separated, each keyword once. Whether the
// values and keyword types fit is checked with the kind (ValidateTemplates).
func ParseFields(spec string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, value, found := strings.Cut(part, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !found || key == "" || value == "" {
			return nil, fmt.Errorf("%q is not keyword=value, such as thing1=title", part)
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("keyword %s is mapped twice", key)
		}
		out[key] = value
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no keyword mapped")
	}
	return out, nil
}

// checkFields checks one kind's mapping: every keyword a WeChat keyword
// of a known type, every value one the kind offers and of a kind the
// keyword's type can hold.
func checkFields(oa bool, kind string, fields map[string]string) error {
	fail := func(key, format string, args ...any) error {
		return &TemplateError{OA: oa, Kind: kind, Keyword: key, Reason: fmt.Sprintf(format, args...)}
	}
	if len(fields) == 0 {
		return fail("", "no keyword mapped")
	}
	offered := kindValues[kind]
	for _, key := range sortedKeys(fields) {
		value := fields[key]
		if oa && untypedKey(key) {
			if !slices.Contains(offered, value) {
				return fail(key, "%q is not a value of %s (one of %s)", value, kind, strings.Join(offered, ", "))
			}
			continue
		}
		if !templateKey.MatchString(key) {
			return fail(key, "not a WeChat keyword such as thing1 or time2")
		}
		typ := fieldType(key)
		if _, known := keywordTypes[typ]; !known {
			return fail(key, "%q is not a keyword type (%s)", typ, strings.Join(sortedKeys(keywordTypes), ", "))
		}
		if !slices.Contains(offered, value) {
			return fail(key, "%q is not a value of %s (one of %s)", value, kind, strings.Join(offered, ", "))
		}
		if !slices.Contains(valueTypes[value], typ) {
			var fit []string
			for _, v := range offered {
				if slices.Contains(valueTypes[v], typ) {
					fit = append(fit, v)
				}
			}
			hint := "none of " + kind + "'s values fits it"
			if len(fit) > 0 {
				hint = "it can hold " + strings.Join(fit, ", ")
			}
			return fail(key, "a %s keyword holds %s and cannot hold %s (%s needs %s); %s",
				typ, keywordTypes[typ], value, value, strings.Join(valueTypes[value], " or "), hint)
		}
	}
	return nil
}

// ValidateTemplates checks the mappings of every kind, of the
// mini-program's and the service account's templates; New runs it too.
// Its errors are *TemplateError when the fault is one kind's.
func (c Config) ValidateTemplates() error {
	for _, kind := range sortedKeys(c.Templates) {
		if !slices.Contains(Kinds(), kind) {
			return fmt.Errorf("message: unknown template kind %q (want one of %v)", kind, Kinds())
		}
		if err := c.Templates[kind].validate(kind); err != nil {
			return err
		}
	}
	for _, kind := range sortedKeys(c.OATemplates) {
		if !slices.Contains(Kinds(), kind) {
			return fmt.Errorf("message: unknown official-account template kind %q (want one of %v)", kind, Kinds())
		}
		if err := c.OATemplates[kind].validate(kind); err != nil {
			return err
		}
	}
	return nil
}

// TemplateLister reads an account's own template list; *wechat.Client
// (subscribe messages) and *wechat.OfficialAccount (template messages)
// implement it.
type TemplateLister interface {
	Templates(ctx context.Context) ([]wechat.TemplateInfo, error)
}

// CheckTemplates compares the configured templates with the accounts' own
// lists: mp's (the mini-program's 我的模板) and, when the service-account
// channel is on, oa's; a nil lister is not asked. A configured id that is
// not in the list, a mapped keyword the template lacks, or (for subscribe
// messages, which WeChat refuses with 47003 then) a keyword of the template
// left unmapped is a *TemplateError. A list that cannot be read (WeChat
// unreachable, the account lacking the permission) is only logged: the
// service starts, and WeChat's answers to the pushes tell the rest.
func (s *Service) CheckTemplates(ctx context.Context, mp, oa TemplateLister) error {
	if mp != nil {
		if err := s.checkList(ctx, mp, false, func(kind string) (string, map[string]string) {
			return s.cfg.Templates[kind].ID, s.cfg.Templates[kind].Fields
		}); err != nil {
			return err
		}
	}
	if oa != nil && s.cfg.OAEnabled {
		return s.checkList(ctx, oa, true, func(kind string) (string, map[string]string) {
			return s.cfg.OATemplates[kind].ID, s.cfg.OATemplates[kind].Fields
		})
	}
	return nil
}

func (s *Service) checkList(ctx context.Context, l TemplateLister, oa bool, of func(kind string) (string, map[string]string)) error {
	if !slices.ContainsFunc(Kinds(), func(kind string) bool { id, _ := of(kind); return id != "" }) {
		return nil // nothing configured to check
	}
	list, err := l.Templates(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "could not read the account's template list; templates not checked at start",
			"service_account", oa, "err", err)
		return nil
	}
	byID := map[string]wechat.TemplateInfo{}
	for _, t := range list {
		byID[t.ID] = t
	}
	for _, kind := range Kinds() {
		id, fields := of(kind)
		if id == "" {
			continue
		}
		t, found := byID[id]
		if !found {
			return &TemplateError{OA: oa, Kind: kind, Reason: fmt.Sprintf("template id %s is not among the account's templates (%d listed)", id, len(list))}
		}
		for _, key := range sortedKeys(fields) {
			if !slices.Contains(t.Keywords, key) {
				return &TemplateError{OA: oa, Kind: kind, Keyword: key,
					Reason: fmt.Sprintf("template %s (%s) has no such keyword; it has %s", id, t.Title, strings.Join(t.Keywords, ", "))}
			}
		}
		for _, key := range t.Keywords {
			if _, mapped := fields[key]; mapped {
				continue
			}
			if oa { // the account shows an unfilled keyword blank
				s.log.WarnContext(ctx, "service-account template keyword not mapped: it shows blank", "kind", kind, "keyword", key, "template_id", id)
				continue
			}
			return &TemplateError{OA: oa, Kind: kind, Keyword: key,
				Reason: fmt.Sprintf("template %s (%s) has this keyword and no value is mapped to it (WeChat refuses such pushes with 47003)", id, t.Title)}
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
