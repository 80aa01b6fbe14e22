package api

import (
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
	authed.PUT("/admin/calendar/:year", h.putCalendarYear)
}

type calendarDay struct {
	Date string `json:"date"`
	Kind string `json:"kind"`
	Name string `json:"name"`
}

type calendarYearResponse struct {
	Year int           `json:"year"`
	Days []calendarDay `json:"days"`
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
	out := calendarYearResponse{Year: year, Days: make([]calendarDay, 0, len(days))}
	for _, d := range days {
		out.Days = append(out.Days, calendarDay{Date: d.Date, Kind: d.Kind, Name: d.Name})
	}
	return out
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
