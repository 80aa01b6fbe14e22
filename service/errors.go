// Package service holds what every capability shares: the error kinds that
// api/ maps onto HTTP, the acting user and scope checks, and the clock.
// Capabilities live in sub-packages (service/auth, service/org, …). Nothing
// under service/ imports gin or net/http handlers.
package service

import (
	"errors"
	"fmt"
	"time"

	"redprop/model"
)

// Kind classifies an error for the caller; api/ maps each to one status.
type Kind int

// The kinds of error a service returns.
const (
	KindInternal      Kind = iota
	KindInvalid            // 400: malformed or unknown input
	KindUnauthorized       // 401: no or bad credentials
	KindForbidden          // 403: role or scope does not allow it
	KindNotFound           // 404
	KindConflict           // 409: state changed under you, duplicate
	KindUnprocessable      // 422: well-formed but breaks a rule
	KindTooLarge           // 413
	KindRateLimited        // 429
	KindUpstream           // 502: WeChat answered with an error
	KindUnavailable        // 503: a dependency is down
	KindUnsupported        // 415: a file of a type we do not take
)

// Error is what services return for anything a user can act on. Message is
// Chinese and shown to people; Code is stable for programs.
type Error struct {
	Kind       Kind
	Code       string
	Message    string
	Detail     any           // optional structured detail (e.g. an order's current state)
	RetryAfter time.Duration // for KindRateLimited
	Err        error         // the cause, for logs
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// WithDetail returns a copy of e carrying detail.
func (e *Error) WithDetail(d any) *Error {
	c := *e
	c.Detail = d
	return &c
}

// Wrap returns a copy of e with the cause err.
func (e *Error) Wrap(err error) *Error {
	c := *e
	c.Err = err
	return &c
}

func newErr(k Kind, code, msg string) *Error { return &Error{Kind: k, Code: code, Message: msg} }

// Invalid is a 400.
func Invalid(code, msg string) *Error { return newErr(KindInvalid, code, msg) }

// Unauthorized is a 401.
func Unauthorized(code, msg string) *Error { return newErr(KindUnauthorized, code, msg) }

// Forbidden is a 403.
func Forbidden(code, msg string) *Error { return newErr(KindForbidden, code, msg) }

// NotFound is a 404.
func NotFound(code, msg string) *Error { return newErr(KindNotFound, code, msg) }

// Conflict is a 409.
func Conflict(code, msg string) *Error { return newErr(KindConflict, code, msg) }

// Unprocessable is a 422.
func Unprocessable(code, msg string) *Error { return newErr(KindUnprocessable, code, msg) }

// TooLarge is a 413.
func TooLarge(code, msg string) *Error { return newErr(KindTooLarge, code, msg) }

// RateLimited is a 429 telling the client when to come back.
func RateLimited(code, msg string, after time.Duration) *Error {
	e := newErr(KindRateLimited, code, msg)
	e.RetryAfter = after
	return e
}

// Upstream is a 502: WeChat (or another upstream) refused or failed.
func Upstream(code, msg string) *Error { return newErr(KindUpstream, code, msg) }

// Unavailable is a 503: a dependency cannot be reached.
func Unavailable(code, msg string) *Error { return newErr(KindUnavailable, code, msg) }

// Unsupported is a 415: an upload whose content is not of a type we take.
func Unsupported(code, msg string) *Error { return newErr(KindUnsupported, code, msg) }

// Errors shared by several capabilities.
var (
	ErrForbidden       = Forbidden("forbidden", "您没有权限进行此操作")
	ErrOutOfScope      = Forbidden("out_of_scope", "该对象不在您的管辖范围内")
	ErrUnauthenticated = Unauthorized("unauthenticated", "请先登录")
)

// KindOf returns the kind of err, KindInternal for anything unclassified.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// OrNotFound is err, with the storage layer's not-found replaced by
// notFound (the capability's own 404 or a "hidden" 403).
func OrNotFound(err, notFound error) error {
	if errors.Is(err, model.ErrNotFound) {
		return notFound
	}
	return err
}
