package api

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"redprop/service"
)

// errorBody is the envelope of DESIGN.md §8.
type errorBody struct {
	Error     errorDetail `json:"error"`
	RequestID string      `json:"request_id"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

var statusOf = map[service.Kind]int{
	service.KindInvalid:       http.StatusBadRequest,
	service.KindUnauthorized:  http.StatusUnauthorized,
	service.KindForbidden:     http.StatusForbidden,
	service.KindNotFound:      http.StatusNotFound,
	service.KindConflict:      http.StatusConflict,
	service.KindUnprocessable: http.StatusUnprocessableEntity,
	service.KindTooLarge:      http.StatusRequestEntityTooLarge,
	service.KindRateLimited:   http.StatusTooManyRequests,
	service.KindUpstream:      http.StatusBadGateway,
	service.KindUnavailable:   http.StatusServiceUnavailable,
	service.KindUnsupported:   http.StatusUnsupportedMediaType,
}

// fail writes err as the error envelope and aborts. Errors that are not
// service errors are logged and answered with a generic 500.
func fail(c *gin.Context, err error) {
	var e *service.Error
	if !errors.As(err, &e) {
		slog.ErrorContext(c.Request.Context(), "internal error", "err", err, "path", c.FullPath(), "request_id", requestID(c))
		e = &service.Error{Kind: service.KindInternal, Code: "internal", Message: "服务器内部错误，请稍后再试"}
	} else if e.Err != nil {
		slog.WarnContext(c.Request.Context(), "request failed", "code", e.Code, "err", e.Err, "request_id", requestID(c))
	}
	status, ok := statusOf[e.Kind]
	if !ok {
		status = http.StatusInternalServerError
	}
	if e.Kind == service.KindRateLimited && e.RetryAfter > 0 {
		secs := int(e.RetryAfter.Seconds() + 0.999)
		c.Header("Retry-After", strconv.Itoa(secs))
	}
	c.AbortWithStatusJSON(status, errorBody{
		Error:     errorDetail{Code: e.Code, Message: e.Message, Detail: e.Detail},
		RequestID: requestID(c),
	})
}

// Errors of the HTTP layer itself.
var (
	errBadJSON    = service.Invalid("bad_request", "请求格式不正确")
	errBadID      = service.Invalid("bad_id", "编号格式不正确")
	errNotFound   = service.NotFound("route_not_found", "接口不存在")
	errMethod     = service.Invalid("method_not_allowed", "请求方法不被允许")
	errBodyTooBig = service.TooLarge("body_too_large", "请求内容过大")
	errBadCursor  = service.Invalid("bad_cursor", "分页游标不正确")
)
