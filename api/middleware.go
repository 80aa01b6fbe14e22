package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"redprop/service"
)

const (
	keyRequestID = "redprop.request_id"
	keyActor     = "redprop.actor"
	keySlots     = "redprop.slots"
)

func requestID(c *gin.Context) string { return c.GetString(keyRequestID) }

// withRequestID takes a sane X-Request-Id from the client or makes one.
func withRequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader("X-Request-Id")
		if id == "" || len(id) > 64 || strings.ContainsAny(id, " \r\n\t") {
			var b [8]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Set(keyRequestID, id)
		c.Header("X-Request-Id", id)
		c.Next()
	}
}

// recovery turns a panic into the generic 500 envelope, logging the stack
// server-side only.
func recovery(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				if err, ok := r.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(r)
				}
				log.ErrorContext(c.Request.Context(), "panic", "panic", fmt.Sprint(r), "stack", string(debug.Stack()),
					"route", c.FullPath(), "request_id", requestID(c))
				if !c.Writer.Written() {
					writeError(c, errInternal)
				}
			}
		}()
		c.Next()
	}
}

// logRequests writes one structured line per request, and one more for
// each error a handler attached through fail: an internal error (the
// client saw a generic 500) at error level, a service error's cause at
// warn. The path is the route template, so ids, codes and tokens in URLs
// never reach the log; the query string is left out for the same reason.
// It runs outside recovery, so a panicked request has its line too.
func logRequests(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		ctx := c.Request.Context()
		if err, ok := c.Get(keyCancelled); ok {
			log.InfoContext(ctx, "request cancelled by the client", "err", err, "route", route, "request_id", requestID(c))
		}
		for _, ge := range c.Errors {
			var e *service.Error
			if errors.As(ge.Err, &e) {
				log.WarnContext(ctx, "request failed", "code", e.Code, "err", e.Err, "route", route, "request_id", requestID(c))
			} else {
				log.ErrorContext(ctx, "internal error", "err", ge.Err, "route", route, "request_id", requestID(c))
			}
		}
		attrs := []any{
			"method", c.Request.Method, "route", route, "status", c.Writer.Status(),
			"ms", time.Since(start).Milliseconds(), "bytes", c.Writer.Size(),
			"request_id", requestID(c),
		}
		if a, ok := c.Get(keyActor); ok {
			attrs = append(attrs, "user_id", a.(*service.Actor).UserID)
		}
		log.InfoContext(ctx, "http", attrs...)
	}
}

// bodyLimits caps request bodies: a default for every route, and a limit
// of their own for the few registered through handle (uploads, imports).
// It runs as one global middleware: gin has matched the route before any
// middleware runs, so the route template picks the limit and a body is
// wrapped exactly once.
type bodyLimits struct {
	def   int64
	route map[string]routeLimit // "POST /api/v1/photos" → limit; written only while routes are registered
}

type routeLimit struct {
	n int64
	// refuse answers a body over the limit in the route's own way (the
	// console's flash area); nil is the API's envelope.
	refuse func(*gin.Context, error)
}

func newBodyLimits(def int64) *bodyLimits {
	return &bodyLimits{def: def, route: map[string]routeLimit{}}
}

// middleware refuses bodies over the route's limit.
func (l *bodyLimits) middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		r, ok := l.route[c.Request.Method+" "+c.FullPath()]
		if !ok {
			r.n = l.def
		}
		if c.Request.ContentLength > r.n {
			if r.refuse != nil {
				r.refuse(c, errBodyTooBig)
				return
			}
			fail(c, errBodyTooBig)
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, r.n)
		c.Next()
	}
}

// handle registers a route whose body may be up to n bytes instead of the
// default.
func (l *bodyLimits) handle(g *gin.RouterGroup, method, relPath string, n int64, hs ...gin.HandlerFunc) {
	l.handleRefusing(g, method, relPath, n, nil, hs...)
}

// handleRefusing is handle with the route's own answer to a body over
// its limit.
func (l *bodyLimits) handleRefusing(g *gin.RouterGroup, method, relPath string, n int64, refuse func(*gin.Context, error), hs ...gin.HandlerFunc) {
	full := path.Join(g.BasePath(), relPath)
	if strings.HasSuffix(relPath, "/") && !strings.HasSuffix(full, "/") {
		full += "/"
	}
	l.route[method+" "+full] = routeLimit{n: n, refuse: refuse}
	g.Handle(method, relPath, hs...)
}

// requireAuth rejects requests without a valid access token.
func requireAuth(auth func(ctx context.Context, token string) (*service.Actor, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.GetHeader("Authorization")
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || token == "" {
			fail(c, service.ErrUnauthenticated)
			return
		}
		actor, err := auth(c.Request.Context(), token)
		if err != nil {
			fail(c, err)
			return
		}
		c.Set(keyActor, actor)
		c.Next()
	}
}

// actor returns the authenticated user of the request.
func actor(c *gin.Context) *service.Actor {
	a, _ := c.Get(keyActor)
	act, _ := a.(*service.Actor)
	return act
}

// inflight lets at most n requests through at once; the others wait in
// the order they came (a channel's blocked senders are woken first in,
// first out). A request whose client leaves while waiting is dropped as
// cancelled. On a machine whose cores are saturated, a queue here keeps
// the tail short: the requests let through share the CPU and the
// database with fewer others, instead of all of them with everyone.
//
// With only, the requests it says no to pass unbounded.
//
// A handler about to stream a file (a photo, a workbook) gives its slots
// back first (releaseSlots): the bound is on the work, and a slow client
// downloading would otherwise hold a slot for the whole transfer.
func inflight(n int, only func(*gin.Context) bool) gin.HandlerFunc {
	slots := make(chan struct{}, n)
	return func(c *gin.Context) {
		if only != nil && !only(c) {
			c.Next()
			return
		}
		select {
		case slots <- struct{}{}:
		case <-c.Request.Context().Done():
			c.AbortWithStatus(statusClientClosed)
			return
		}
		var once sync.Once
		release := func() { once.Do(func() { <-slots }) }
		defer release()
		held, _ := c.Get(keySlots)
		fns, _ := held.([]func())
		c.Set(keySlots, append(fns, release))
		c.Next()
	}
}

// releaseSlots gives back the inflight slots the request holds (none
// when no bound is set); the request goes on unbounded.
func releaseSlots(c *gin.Context) {
	held, _ := c.Get(keySlots)
	fns, _ := held.([]func())
	for _, release := range fns {
		release()
	}
}

// isRead says whether a request only reads (GET, HEAD).
func isRead(c *gin.Context) bool {
	return c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead
}
