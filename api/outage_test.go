package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"redprop/model"
)

// fail answers a storage outage as 503 database_down with the envelope,
// and a request whose client hung up as cancelled at info, never as a
// 500 or 503.
func TestFailOnOutageAndCancellation(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(withRequestID(), logRequests(log))
	r.GET("/down", func(c *gin.Context) {
		fail(c, fmt.Errorf("load order: %w", model.Translate(context.DeadlineExceeded)))
	})
	r.GET("/contended", func(c *gin.Context) {
		fail(c, fmt.Errorf("read notice: %w", model.ErrDeadlock))
	})
	r.GET("/gone", func(c *gin.Context) {
		fail(c, fmt.Errorf("load order: %w", model.Translate(c.Request.Context().Err())))
	})

	t.Run("database down is 503 database_down with the envelope", func(t *testing.T) {
		logs.Reset()
		w := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/down", nil)
		req.Header.Set("X-Request-Id", "rid-down")
		r.ServeHTTP(w, req)
		var body errorBody
		json.Unmarshal(w.Body.Bytes(), &body)
		if w.Code != http.StatusServiceUnavailable || body.Error.Code != "database_down" ||
			body.Error.Message == "" || body.RequestID != "rid-down" {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if strings.Contains(logs.String(), `"level":"ERROR"`) || !strings.Contains(logs.String(), "database_down") {
			t.Fatalf("log:\n%s", logs.String())
		}
	})
	t.Run("a deadlock left after the retries is 503 busy, not a 500", func(t *testing.T) {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest("GET", "/contended", nil))
		var body errorBody
		json.Unmarshal(w.Body.Bytes(), &body)
		if w.Code != http.StatusServiceUnavailable || body.Error.Code != "busy" || body.Error.Message == "" {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("a client that hung up is logged as cancelled at info", func(t *testing.T) {
		logs.Reset()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest("GET", "/gone", nil).WithContext(ctx))
		if w.Code != statusClientClosed {
			t.Fatalf("status %d, want %d", w.Code, statusClientClosed)
		}
		out := logs.String()
		if !strings.Contains(out, "request cancelled by the client") ||
			strings.Contains(out, `"level":"ERROR"`) || strings.Contains(out, `"level":"WARN"`) {
			t.Fatalf("log:\n%s", out)
		}
	})
}
