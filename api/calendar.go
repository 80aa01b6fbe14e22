package api

import (
	"io"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"redprop/service"
	"redprop/service/calendar"
)

// calendarRoutes registers the working-day calendar: read by anyone signed
// in (deadlines are shown in working days), edited by platform admins.
func (h *handlers) calendarRoutes(authed *gin.RouterGroup) {
	authed.GET("/calendar/:year", h.getCalendarYear)
	authed.GET("/admin/calendar", h.getCalendarStatus)
	authed.PUT("/admin/calendar/:year", h.putCalendarYear)
	authed.POST("/admin/calendar/:year/import", h.importCalendarYear)
}

type calendarDay struct {
	Date string `json:"date"`
	Kind string `json:"kind"`
	Name string `json:"name"`
}

type calendarYearResponse struct {
	Year int           `json:"year"`
	Days []calendarDay `json:"days"`
	// Loaded is false for a year nobody loaded: its deadlines count a
	// plain week (holidays as worked).
	Loaded bool `json:"loaded"`
}

type calendarYearRequest struct {
	Days *[]calendarDay `json:"days"`
}

var errCalendarYear = service.Invalid("bad_year", "年份格式不正确")

func calendarYear(c *gin.Context) (int, bool) {
	y, err := strconv.Atoi(c.Param("year"))
	if err != nil {
		fail(c, errCalendarYear)
		return 0, false
	}
	return y, true
}

func newCalendarYearResponse(year int, days []calendar.Day) calendarYearResponse {
	return calendarYearResponse{Year: year, Days: calendarDayList(days), Loaded: len(days) > 0}
}

func calendarDayList(days []calendar.Day) []calendarDay {
	out := make([]calendarDay, 0, len(days))
	for _, d := range days {
		out = append(out, calendarDay{Date: d.Date, Kind: d.Kind, Name: d.Name})
	}
	return out
}

type calendarStatusResponse struct {
	Years      []int  `json:"years"`
	Year       int    `json:"year"`
	YearLoaded bool   `json:"year_loaded"`
	NextLoaded bool   `json:"next_year_loaded"`
	Missing    []int  `json:"missing"`
	Warning    string `json:"warning,omitempty"`
}

func newCalendarStatusResponse(st calendar.Status) calendarStatusResponse {
	missing := st.Missing
	if missing == nil {
		missing = []int{}
	}
	return calendarStatusResponse{Years: st.Years, Year: st.Year, YearLoaded: st.YearLoaded, NextLoaded: st.NextLoaded,
		Missing: missing, Warning: st.Warning}
}

// getCalendarStatus tells admins which years are loaded and which must be.
func (h *handlers) getCalendarStatus(c *gin.Context) {
	if !actor(c).IsAdmin() {
		fail(c, service.ErrForbidden)
		return
	}
	st, err := h.Calendar.Status(c.Request.Context())
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newCalendarStatusResponse(st))
}

type calendarChange struct {
	Date string      `json:"date"`
	From calendarDay `json:"from"`
	To   calendarDay `json:"to"`
}

type calendarImportResponse struct {
	Year         int              `json:"year"`
	LoadedBefore bool             `json:"loaded_before"`
	Applied      bool             `json:"applied"`
	Days         []calendarDay    `json:"days"`
	Added        []calendarDay    `json:"added"`
	Removed      []calendarDay    `json:"removed"`
	Changed      []calendarChange `json:"changed"`
}

// importCalendarYear reads a calendar file (the body, in the format the
// query names) and answers what it changes; apply=true stores it.
func (h *handlers) importCalendarYear(c *gin.Context) {
	year, ok := calendarYear(c)
	if !ok {
		return
	}
	apply, ok := queryBool(c, "apply")
	if !ok {
		return
	}
	data, err := io.ReadAll(c.Request.Body)
	if err != nil {
		fail(c, errBodyTooBig)
		return
	}
	p, err := h.Calendar.Import(c.Request.Context(), actor(c), year, c.Query("format"), data, apply != nil && *apply)
	if err != nil {
		fail(c, err)
		return
	}
	out := calendarImportResponse{Year: p.Year, LoadedBefore: p.LoadedBefore, Applied: p.Applied, Days: calendarDayList(p.Days),
		Added: calendarDayList(p.Added), Removed: calendarDayList(p.Removed), Changed: make([]calendarChange, 0, len(p.Changed))}
	for _, ch := range p.Changed {
		out.Changed = append(out.Changed, calendarChange{Date: ch.Date,
			From: calendarDay{Date: ch.From.Date, Kind: ch.From.Kind, Name: ch.From.Name},
			To:   calendarDay{Date: ch.To.Date, Kind: ch.To.Kind, Name: ch.To.Name}})
	}
	c.JSON(http.StatusOK, out)
}

func (h *handlers) getCalendarYear(c *gin.Context) {
	year, ok := calendarYear(c)
	if !ok {
		return
	}
	days, err := h.Calendar.Year(c.Request.Context(), year)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newCalendarYearResponse(year, days))
}

func (h *handlers) putCalendarYear(c *gin.Context) {
	year, ok := calendarYear(c)
	if !ok {
		return
	}
	var req calendarYearRequest
	if !bindJSON(c, &req) {
		return
	}
	// An absent list must not read as "clear the year".
	if req.Days == nil {
		fail(c, service.Invalid("days_required", "请提供 days 列表；清空该年请传空列表"))
		return
	}
	days := make([]calendar.Day, 0, len(*req.Days))
	for _, d := range *req.Days {
		days = append(days, calendar.Day{Date: d.Date, Kind: d.Kind, Name: d.Name})
	}
	ctx := c.Request.Context()
	if err := h.Calendar.SetYear(ctx, actor(c), year, days); err != nil {
		fail(c, err)
		return
	}
	saved, err := h.Calendar.Year(ctx, year)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newCalendarYearResponse(year, saved))
}
