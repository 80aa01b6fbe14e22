package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"redprop/model"
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

// errInternal is what a client sees of an error that is not a service
// error: the cause stays in the server's log.
var errInternal = &service.Error{Kind: service.KindInternal, Code: "internal", Message: "服务器内部错误，请稍后再试"}

// errDatabaseDown answers any error that the storage layer classified as
// an outage (model.ErrUnavailable): the client may retry, nothing is
// wrong with its request.
var errDatabaseDown = service.Unavailable("database_down", "服务暂时不可用，请稍后再试")

// errBusy answers a write that lost to others on the same rows as a
// deadlock victim more often than its service retried it (many people
// opening one notice at once): nothing is wrong with the request, and
// the client may send it again.
var errBusy = service.Unavailable("busy", "操作繁忙，请稍后重试")

// statusClientClosed is what the log and metrics record for a request
// whose client went away before the answer (nginx's 499): nobody reads
// it, and it is neither a fault of ours nor an outage.
const statusClientClosed = 499

const keyCancelled = "redprop.cancelled"

// fail writes err as the error envelope and aborts. Errors that are not
// service errors are answered with a generic 500. Both those and service
// errors wrapping a cause are attached to the request (c.Error), where
// the request log (logRequests) writes them with the configured logger
// and the request id.
func fail(c *gin.Context, err error) {
	if errors.Is(c.Request.Context().Err(), context.Canceled) {
		// The client hung up: whatever the error says (a cancelled query,
		// a connection the driver dropped on cancel) it is not ours.
		c.Set(keyCancelled, err)
		c.AbortWithStatus(statusClientClosed)
		return
	}
	var e *service.Error
	if !errors.As(err, &e) && errors.Is(err, model.ErrUnavailable) {
		_ = c.Error(errDatabaseDown.Wrap(err))
		e = errDatabaseDown
	} else if e == nil && errors.Is(err, model.ErrDeadlock) {
		_ = c.Error(errBusy.Wrap(err))
		e = errBusy
	} else if e == nil {
		_ = c.Error(err)
		e = errInternal
	} else if e.Err != nil {
		_ = c.Error(err)
	}
	writeError(c, e)
}

// writeError writes e as the envelope with its kind's status and aborts.
func writeError(c *gin.Context, e *service.Error) {
	status, ok := statusOf[e.Kind]
	if !ok {
		status = http.StatusInternalServerError
	}
	writeStatus(c, status, e)
}

// writeStatus writes e as the envelope with the given status and aborts.
func writeStatus(c *gin.Context, status int, e *service.Error) {
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
	errMethod     = service.Invalid("method_not_allowed", "请求方法不被允许") // answered 405: see NewRouter
	errBodyTooBig = service.TooLarge("body_too_large", "请求内容过大")
	errBadCursor  = service.Invalid("bad_cursor", "分页游标不正确")
	errBadDate    = service.Invalid("bad_date", "日期须为 YYYY-MM-DD 或 RFC 3339 时间")
)
