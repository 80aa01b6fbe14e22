package api

import (
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"redprop/service"
)

// Text rules of every request, applied once where requests are bound:
//
//   - a body, path or query string must be valid UTF-8: Go's JSON decoder
//     would silently turn bad bytes (and lone surrogate escapes) into
//     U+FFFD and store that;
//   - every string field of a request is a single line by default (names,
//     titles, places, codes …) and is refused if it holds a control
//     character: NUL, ESC and BEL in a name break exports, logs and the
//     terminals people read them in;
//   - a field tagged `text:"block"` is long text (descriptions, notes,
//     minutes, comments): control characters are stripped from it, except
//     newline and tab, which such text legitimately holds.
//
// Line is the default so that a new field is covered without anyone
// remembering to tag it; forgetting the block tag refuses input, it never
// lets a control character through.

var (
	errBadEncoding = service.Invalid("bad_encoding", "请求内容须为 UTF-8 编码")
	errNotJSON     = service.Unsupported("unsupported_media_type", "请求内容须为 JSON（Content-Type: application/json）")
)

// errControl names the offending field.
func errControl(field string) error {
	return service.Invalid("bad_text", "字段 "+field+" 不能包含控制字符")
}

// jsonContentType accepts a missing Content-Type (the body is read as
// JSON anyway) or application/json, with at most a UTF-8 charset: a form
// post or a body in another encoding is 415, not a confusing 400 about
// its syntax.
func jsonContentType(ct string) bool {
	if ct == "" {
		return true
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return false
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return false
		}
	}
	return true
}

// validJSONText reports whether a raw JSON body is valid UTF-8 and holds no
// \u escape of a lone surrogate (which decodes to U+FFFD as well).
func validJSONText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if i+1 >= len(b) || b[i+1] != 'u' {
			i++ // an escaped character, maybe a backslash: skip it
			continue
		}
		r, ok := hex4(b, i+2)
		if !ok {
			return true // bad syntax: the decoder will say so
		}
		i += 5
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return false // a low surrogate with no high one before it
		case r >= 0xD800 && r <= 0xDBFF:
			if i+6 >= len(b) || b[i+1] != '\\' || b[i+2] != 'u' {
				return false
			}
			lo, ok := hex4(b, i+3)
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return false
			}
			i += 6
		}
	}
	return true
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[at:at+4]), 16, 32)
	return rune(n), err == nil
}

// validURLText refuses a path or query that decodes to invalid UTF-8
// (?name=%ff), before any handler reads it.
func validURLText() gin.HandlerFunc {
	return func(c *gin.Context) {
		ok := utf8.ValidString(c.Request.URL.Path)
		for k, vs := range c.Request.URL.Query() {
			ok = ok && utf8.ValidString(k)
			for _, v := range vs {
				ok = ok && utf8.ValidString(v)
			}
		}
		if !ok {
			fail(c, errBadEncoding)
			return
		}
		c.Next()
	}
}

// hasBody reports whether the request carries a body (a chunked body has
// no length).
func hasBody(r *http.Request) bool {
	return r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody
}

// checkText applies the line and block rules to every string reachable
// from v (a pointer to a decoded request), stripping block fields in
// place. It returns the error for the first line field with a control
// character.
func checkText(v any) error {
	return walkText(reflect.ValueOf(v), "", false)
}

func walkText(v reflect.Value, path string, block bool) error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return walkText(v.Elem(), path, block)
	case reflect.String:
		s := v.String()
		if block {
			if t := stripControls(s); t != s && v.CanSet() {
				v.SetString(t)
			}
			return nil
		}
		if strings.IndexFunc(s, unicode.IsControl) >= 0 {
			return errControl(path)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if f.Anonymous && f.Tag.Get("json") == "" {
				name = path // embedded: its fields are the parent's
			} else if path != "" {
				name = path + "." + name
			}
			if err := walkText(v.Field(i), name, f.Tag.Get("text") == "block"); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return nil // json.RawMessage and []byte: not text, decoded later by their own rules
		}
		for i := range v.Len() {
			if err := walkText(v.Index(i), path+"["+strconv.Itoa(i)+"]", block); err != nil {
				return err
			}
		}
	case reflect.Map:
		// Map values cannot be set in place; no request has a map today,
		// so keys and values are held to the line rule.
		it := v.MapRange()
		for it.Next() {
			if err := walkText(it.Key(), path, false); err != nil {
				return err
			}
			if err := walkText(it.Value(), path+"."+it.Key().String(), false); err != nil {
				return err
			}
		}
	}
	return nil
}

// stripControls drops control characters except newline and tab. A CR is
// dropped too: CRLF becomes LF, a lone CR would overwrite a line in a
// terminal.
func stripControls(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return -1
		}
		return r
	}, s)
}
