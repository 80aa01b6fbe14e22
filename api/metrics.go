package api

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"redprop/service"
	"redprop/service/message"
)

// GET /metrics serves Prometheus text from a registry the router owns
// (Deps.Metrics, or its own): HTTP request counts and latency by route,
// and the messages' delivery counts read at each scrape. The process-wide
// default registry is never touched. It sits outside /api/v1 and needs no
// login; Deps.MetricsToken, when set, is the bearer token a scraper must
// send.

var errMetricsToken = service.Unauthorized("metrics_token", "需要有效的监控访问令牌")

// metricsRoutes installs the request metrics for every route registered
// after it and serves GET /metrics.
func (h *handlers) metricsRoutes(r *gin.Engine) {
	reg := h.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m := newHTTPMetrics()
	reg.MustRegister(m.requests, m.latency)
	if h.Message != nil {
		reg.MustRegister(newMessageCollector(h.Message))
	}
	r.Use(m.middleware())
	serve := promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A failing part (the database behind the delivery counts) is
		// logged; the rest is still served.
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      promLog{h.Log},
	})
	token := h.MetricsToken
	r.GET("/metrics", func(c *gin.Context) {
		if token != "" && subtle.ConstantTimeCompare([]byte(c.GetHeader("Authorization")), []byte("Bearer "+token)) != 1 {
			fail(c, errMetricsToken)
			return
		}
		serve.ServeHTTP(c.Writer, c.Request)
	})
}

// scrapeTimeout bounds the database reads of one scrape.
const scrapeTimeout = 2 * time.Second

type promLog struct{ log *slog.Logger }

func (l promLog) Println(v ...any) { l.log.Error("metrics", "err", fmt.Sprint(v...)) }

type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newHTTPMetrics() httpMetrics {
	return httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "redprop_http_requests_total",
			Help: "HTTP requests answered, by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "redprop_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by method and route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
	}
}

// middleware counts each answered request under its route pattern
// (/api/v1/orders/:id), never the raw path: ids would make a series each.
func (m httpMetrics) middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(c.Request.Method, route, strconv.Itoa(c.Writer.Status())).Inc()
		m.latency.WithLabelValues(c.Request.Method, route).Observe(time.Since(start).Seconds())
	}
}

// messageCollector reads the delivery counts at each scrape. The outbox
// gauges count the rows still on their way or stuck, of every instance
// (never the settled history, which a scrape must not read); what was
// sent and skipped is in the process counters, this instance's since
// start (sum them over instances).
type messageCollector struct {
	svc  *message.Service
	desc map[string]*prometheus.Desc
}

func newMessageCollector(svc *message.Service) *messageCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("redprop_message_"+name, help, labels, nil)
	}
	return &messageCollector{svc: svc, desc: map[string]*prometheus.Desc{
		"failed":         d("failed", "Outbox rows now failed (to retry) or dead, by last error code.", "code"),
		"dead":           d("dead", "Outbox rows that failed too often."),
		"unknown":        d("unknown", "Outbox rows whose outcome was lost while sending (not sent again by default)."),
		"waiting":        d("waiting", "Outbox rows pending, failed to retry, or claimed."),
		"sending":        d("sending", "Outbox rows being sent now."),
		"lag":            d("outbox_lag_seconds", "Age of the oldest due outbox row not yet taken."),
		"checks_pending": d("checks_pending", "Stored texts waiting for WeChat's content check."),
		"checks_flagged": d("checks_flagged", "Stored texts the content check flagged review or risky."),
		"p_sent":         d("process_sent_total", "Pushes this instance sent since start, by channel.", "channel"),
		"p_skipped":      d("process_skipped_total", "Pushes this instance skipped since start, by reason.", "reason"),
		"p_failed":       d("process_failed_total", "Failed send attempts of this instance since start, by error code.", "code"),
		"p_dead":         d("process_dead_total", "Rows this instance declared dead since start."),
		"p_unknown":      d("process_unknown_total", "Rows this instance found with their outcome lost, since start."),
		"p_requeued":     d("process_requeued_total", "Rows this instance returned to the queue, since start."),
	}}
}

func (m *messageCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range m.desc {
		ch <- d
	}
}

func (m *messageCollector) Collect(ch chan<- prometheus.Metric) {
	// The registry gives no request context: a scrape is bounded here,
	// shorter than the query deadline, so that a stalled database costs a
	// scrape its delivery counts (logged) and never the process series.
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	s, err := m.svc.MetricsSnapshot(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(m.desc["waiting"], err)
		return
	}
	gauge := func(name string, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(m.desc[name], prometheus.GaugeValue, v, labels...)
	}
	counter := func(name string, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(m.desc[name], prometheus.CounterValue, v, labels...)
	}
	for code, n := range s.Failed {
		gauge("failed", float64(n), code)
	}
	gauge("dead", float64(s.Dead))
	gauge("unknown", float64(s.Unknown))
	gauge("waiting", float64(s.Waiting))
	gauge("sending", float64(s.Sending))
	gauge("lag", s.Lag.Seconds())
	gauge("checks_pending", float64(s.ChecksPending))
	gauge("checks_flagged", float64(s.ChecksFlagged))
	for channel, n := range s.Process.SentByChannel {
		counter("p_sent", float64(n), channel)
	}
	for reason, n := range s.Process.Skipped {
		counter("p_skipped", float64(n), reason)
	}
	for code, n := range s.Process.Failed {
		counter("p_failed", float64(n), code)
	}
	counter("p_dead", float64(s.Process.Dead))
	counter("p_unknown", float64(s.Process.Unknown))
	counter("p_requeued", float64(s.Process.Requeued))
}
