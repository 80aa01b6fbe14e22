//go:build !faultroutes

package api

import "github.com/gin-gonic/gin"

// faultRoutes adds nothing: the failing routes are in fault.go, built only
// with -tags faultroutes for the binary's logging test.
func faultRoutes(*gin.Engine) {}
