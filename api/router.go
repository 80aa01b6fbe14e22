// Package api is the HTTP surface of redprop: gin handlers, middleware,
// request and response types and the OpenAPI document. Handlers are thin:
// bind, call one service method with the request's context, convert.
// Only main imports this package.
package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"redprop/service"
	"redprop/service/action"
	"redprop/service/auth"
	"redprop/service/calendar"
	"redprop/service/dashboard"
	"redprop/service/disclosure"
	"redprop/service/export"
	"redprop/service/idem"
	"redprop/service/inspection"
	"redprop/service/meeting"
	"redprop/service/message"
	"redprop/service/notice"
	"redprop/service/order"
	"redprop/service/org"
	"redprop/service/photo"
	"redprop/service/ranking"
	"redprop/service/score"
	"redprop/service/vote"
	"redprop/service/wish"
)

// Deps are the services the router serves.
type Deps struct {
	// Log receives every line the router writes: requests, 500s, panics,
	// failed readiness. Nil discards them.
	Log          *slog.Logger
	MaxBodyBytes int64
	// MaxInflight bounds the API requests served at once, MaxInflightReads
	// the reads (GET, HEAD) alone (0: none).
	MaxInflight, MaxInflightReads int
	// Ready reports whether the database and Redis answer.
	Ready func(ctx context.Context) error
	// Metrics is the registry GET /metrics serves (nil: the router makes
	// its own); MetricsToken, when set, is the bearer token it requires.
	Metrics      *prometheus.Registry
	MetricsToken string
	// TrustedProxies are the addresses (IPs or CIDRs) of the reverse
	// proxies whose X-Forwarded-For names the client; none by default, so
	// the client is the connection's peer and the header cannot be used to
	// escape the login limit per IP.
	TrustedProxies []string

	Auth *auth.Service
	Org  *org.Service
	// Idem keeps the answers of create requests by Idempotency-Key; nil
	// turns the generic replay off (orders keep their own keys anyway).
	Idem *idem.Store

	Calendar *calendar.Service
	Photo    *photo.Service
	Message  *message.Service
	Order    *order.Service
	Action   *action.Service
	Meeting  *meeting.Service
	Vote     *vote.Service
	Wish     *wish.Service
	// Inspection holds checklists and inspections (rectifications of bad
	// ratings are the order capability's).
	Inspection *inspection.Service
	Notice     *notice.Service
	// Disclosure runs the disclosure boards (三公开).
	Disclosure *disclosure.Service
	// Dashboard answers the officials' figures; Export builds .xlsx files.
	Dashboard *dashboard.Service
	Export    *export.Service

	// Console configures the PC console at /console/.
	Console ConsoleOptions
	Score   *score.Service
	// Ranking publishes 红黑榜 and stars and takes their appeals.
	Ranking *ranking.Service

	// Pprof serves Go's profiles to platform admins (off: 404).
	Pprof bool
}

// handlers is the receiver of every endpoint.
type handlers struct {
	Deps
	bodies *bodyLimits
}

// NewRouter builds the gin engine with every route.
func NewRouter(d Deps) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	h := &handlers{Deps: d, bodies: newBodyLimits(d.MaxBodyBytes)}
	r := gin.New()
	r.HandleMethodNotAllowed = true
	if err := r.SetTrustedProxies(d.TrustedProxies); err != nil {
		// app.go validated the list; a bad entry here trusts nobody.
		d.Log.Error("trusted proxies", "err", err)
		_ = r.SetTrustedProxies(nil)
	}
	r.Use(headAsGet(r), withRequestID(), logRequests(d.Log), recovery(d.Log), h.bodies.middleware(), validURLText())
	h.metricsRoutes(r) // before every other route: it counts them
	r.NoRoute(func(c *gin.Context) { fail(c, errNotFound) })
	// gin has set Allow to the methods the path does take (RFC 9110 §15.5.6).
	r.NoMethod(func(c *gin.Context) { writeStatus(c, http.StatusMethodNotAllowed, errMethod) })

	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", h.ready)
	r.GET("/openapi.yaml", serveOpenAPI)

	v1 := r.Group("/api/v1")
	if d.MaxInflight > 0 {
		v1.Use(inflight(d.MaxInflight, nil))
	}
	if d.MaxInflightReads > 0 {
		v1.Use(inflight(d.MaxInflightReads, isRead))
	}
	authed := v1.Group("", requireAuth(d.Auth.Authenticate))
	h.authRoutes(v1, authed)
	h.orgRoutes(authed)
	h.peopleRoutes(authed)
	h.calendarRoutes(authed)
	h.photoRoutes(authed)
	h.messageRoutes(v1, authed)
	h.orderRoutes(authed)
	h.emergencyRoutes(authed)
	h.actionRoutes(authed)
	h.meetingRoutes(authed)
	h.voteRoutes(authed)
	h.wishRoutes(authed)
	h.inspectionRoutes(authed)
	h.noticeRoutes(authed)
	h.disclosureRoutes(authed)
	h.dashboardRoutes(authed)
	h.consoleRoutes(r, authed)
	h.scoreRoutes(authed)
	h.rankingRoutes(authed)
	h.pprofRoutes(authed)
	faultRoutes(r)
	return r
}

func (h *handlers) ready(c *gin.Context) {
	if err := h.Ready(c.Request.Context()); err != nil {
		h.Log.WarnContext(c.Request.Context(), "not ready", "err", err, "request_id", requestID(c))
		fail(c, service.Unavailable("not_ready", "服务依赖暂不可用"))
		return
	}
	// Ready, but a year without a working calendar miscounts deadlines:
	// said here so that the operator's checks see it too.
	warnings := []string{}
	if st, err := h.Calendar.Status(c.Request.Context()); err != nil {
		warnings = append(warnings, "calendar_unknown")
	} else {
		for _, y := range st.Missing {
			warnings = append(warnings, fmt.Sprintf("calendar_missing:%d", y))
		}
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready", "warnings": warnings})
}
