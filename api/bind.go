package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"redprop/service"
	"redprop/service/calendar"
)

// bindJSON decodes the body into req, refusing a Content-Type other than
// JSON (415), bodies that are not UTF-8, unknown fields, trailing data and
// bodies over the limit, then applies the text rules of text.go to every
// string field. It writes the error and returns false.
func bindJSON(c *gin.Context, req any) bool {
	if hasBody(c.Request) && !jsonContentType(c.GetHeader("Content-Type")) {
		fail(c, errNotJSON)
		return false
	}
	raw, err := io.ReadAll(c.Request.Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		fail(c, errBodyTooBig)
		return false
	case err != nil:
		fail(c, errBadJSON.Wrap(err))
		return false
	case !validJSONText(raw):
		fail(c, errBadEncoding)
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(req); err != nil {
		switch {
		case errors.Is(err, io.EOF):
			fail(c, service.Invalid("empty_body", "请求内容不能为空"))
		default:
			fail(c, errBadJSON.Wrap(err))
		}
		return false
	}
	if dec.More() {
		fail(c, errBadJSON)
		return false
	}
	if err := checkText(req); err != nil {
		fail(c, err)
		return false
	}
	return true
}

// pathID reads a positive integer path parameter.
func pathID(c *gin.Context, name string) (int64, bool) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		fail(c, errBadID)
		return 0, false
	}
	return id, true
}

// pathIDs reads an id and the id of something under it (/meetings/:id/
// participants/:user_id …), answering 400 for either.
func pathIDs(c *gin.Context, name, sub string) (int64, int64, bool) {
	id, ok := pathID(c, name)
	if !ok {
		return 0, 0, false
	}
	subID, ok := pathID(c, sub)
	return id, subID, ok
}

// queryID reads an optional positive integer query parameter (0 if absent).
func queryID(c *gin.Context, name string) (int64, bool) {
	raw := c.Query(name)
	if raw == "" {
		return 0, true
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		fail(c, service.Invalid("bad_query", "查询参数 "+name+" 格式不正确"))
		return 0, false
	}
	return id, true
}

// queryBool reads an optional true/false query parameter (nil if absent).
func queryBool(c *gin.Context, name string) (*bool, bool) {
	var b bool
	switch c.Query(name) {
	case "":
		return nil, true
	case "true":
		b = true
	case "false":
	default:
		fail(c, service.Invalid("bad_query", "查询参数 "+name+" 须为 true 或 false"))
		return nil, false
	}
	return &b, true
}

// queryDate reads a Beijing date (YYYY-MM-DD) or an RFC 3339 time. A date
// as the end of a range includes that whole day.
func queryDate(c *gin.Context, name string, end bool) (*time.Time, bool) {
	raw := c.Query(name)
	if raw == "" {
		return nil, true
	}
	if t, err := parseTime(raw); err == nil {
		return &t, true
	}
	t, err := time.ParseInLocation(time.DateOnly, raw, calendar.Beijing)
	if err == nil {
		err = saneYear(t)
	}
	if err != nil {
		fail(c, errBadDate)
		return nil, false
	}
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return &t, true
}

// page reads ?cursor= and ?limit= (default 20, at most 100).
func page(c *gin.Context) (service.Page, bool) {
	p := service.Page{Limit: 20}
	if raw := c.Query("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 100 {
			fail(c, service.Invalid("bad_limit", "每页条数须在 1 到 100 之间"))
			return p, false
		}
		p.Limit = n
	}
	if raw := c.Query("cursor"); raw != "" {
		b, err := base64.RawURLEncoding.DecodeString(raw)
		if err != nil {
			fail(c, errBadCursor)
			return p, false
		}
		id, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil || id <= 0 {
			fail(c, errBadCursor)
			return p, false
		}
		p.After = id
	}
	return p, true
}

// nextCursor encodes the id a following page starts after ("" at the end).
func nextCursor(lastID int64, more bool) string {
	if !more {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(lastID, 10)))
}

// ts formats a stored UTC time for clients: Beijing time, so served
// times carry +08:00 (DESIGN.md §8).
func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(calendar.Beijing).Format(time.RFC3339)
}

// tsp formats an optional time.
func tsp(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := ts(*t)
	return &s
}

// parseTime reads an RFC 3339 time. Years outside 2000–2199 are refused
// as malformed: nothing in this domain lies there, and MySQL's DATETIME
// and Go's formatting both fail at the far ends (year 0, year 9999 with a
// negative offset) with a 500 instead of a 400.
func parseTime(raw string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		return time.Time{}, err
	}
	return t, saneYear(t)
}

func saneYear(t time.Time) error {
	if y := t.UTC().Year(); y < 2000 || y > 2199 {
		return fmt.Errorf("year %d is out of range", y)
	}
	return nil
}

// createdOr200 answers a create: 201 with what was made, or 200 with what
// an earlier request with the same Idempotency-Key made.
func createdOr200(c *gin.Context, created bool, body any) {
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, body)
}
