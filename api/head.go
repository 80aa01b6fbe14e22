package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// headAsGet answers HEAD like GET without the body (RFC 9110 §9.3.2): a
// monitor or proxy probing /healthz or a photo with HEAD gets GET's status
// and headers. gin registers no HEAD routes, so every HEAD request lands
// here unmatched; it runs first, serves a GET copy of the request through
// the whole engine (auth, limits, logging and metrics run once, for the
// GET) and stops its own chain.
func headAsGet(engine *gin.Engine) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.Method != http.MethodHead {
			c.Next()
			return
		}
		// gin has set Allow for the unmatched HEAD; the GET sets its own.
		c.Writer.Header().Del("Allow")
		get := c.Request.Clone(c.Request.Context())
		get.Method = http.MethodGet
		engine.ServeHTTP(headWriter{c.Writer}, get)
		c.Abort()
	}
}

// headWriter passes status and headers on and drops the body.
type headWriter struct{ gin.ResponseWriter }

func (w headWriter) Write(b []byte) (int, error) {
	w.WriteHeaderNow()
	return len(b), nil
}

func (w headWriter) WriteString(s string) (int, error) {
	w.WriteHeaderNow()
	return len(s), nil
}
