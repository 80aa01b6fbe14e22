package api

import (
	"net/http/pprof"
	rpprof "runtime/pprof"

	"github.com/gin-gonic/gin"

	"redprop/service"
)

// pprofRoutes serves Go's profiles to platform admins when Deps.Pprof is
// on: GET /api/v1/admin/debug/pprof/{name}, where name is profile (CPU,
// ?seconds=N), trace, heap, allocs, goroutine, block, mutex, threadcreate,
// cmdline or symbol. Off (the default) it answers 404 as for a path that
// does not exist; on, anyone but an admin gets 403. The route is always
// registered so that the document describes it either way.
func (h *handlers) pprofRoutes(authed *gin.RouterGroup) {
	authed.GET("/admin/debug/pprof/:name", func(c *gin.Context) {
		if !h.Pprof {
			fail(c, errNotFound)
			return
		}
		if !actor(c).IsAdmin() {
			fail(c, service.ErrForbidden)
			return
		}
		name := c.Param("name")
		switch name {
		case "profile":
			pprof.Profile(c.Writer, c.Request)
		case "trace":
			pprof.Trace(c.Writer, c.Request)
		case "cmdline":
			pprof.Cmdline(c.Writer, c.Request)
		case "symbol":
			pprof.Symbol(c.Writer, c.Request)
		default:
			if rpprof.Lookup(name) == nil {
				fail(c, errNotFound)
				return
			}
			pprof.Handler(name).ServeHTTP(c.Writer, c.Request)
		}
	})
}
