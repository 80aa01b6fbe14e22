//go:build faultroutes

package api

import (
	"errors"

	"github.com/gin-gonic/gin"
)

// faultRoutes adds two routes that fail on purpose, so that a test can
// watch the real binary log a panic and a 500 (e2e_test.go builds it with
// -tags faultroutes). They exist in no other build.
func faultRoutes(r *gin.Engine) {
	r.GET("/fault/panic", func(c *gin.Context) { panic("fault route: a panic") })
	r.GET("/fault/error", func(c *gin.Context) { fail(c, errors.New("fault route: a plain error")) })
}
