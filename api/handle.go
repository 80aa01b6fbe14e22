package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"redprop/service"
)

// The shapes most endpoints share, written once: a page of T, and the
// create / get / patch / list-under handlers of a thing named by :id.

// pageOf is one page of a keyset-paginated list.
type pageOf[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// newPage converts a page of S; the next cursor is the id of its last row.
func newPage[S, T any](p service.Paged[S], id func(S) int64, conv func(S) T) pageOf[T] {
	out := pageOf[T]{Items: make([]T, 0, len(p.Items))}
	for _, it := range p.Items {
		out.Items = append(out.Items, conv(it))
	}
	if len(p.Items) > 0 {
		out.NextCursor = nextCursor(id(p.Items[len(p.Items)-1]), p.More)
	}
	return out
}

// createJSON binds a create request, calls the service and answers 201.
func createJSON[Req, Row, Resp any](c *gin.Context, call func(Req) (Row, error), conv func(Row) Resp) {
	var req Req
	if !bindJSON(c, &req) {
		return
	}
	row, err := call(req)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, conv(row))
}

// byID reads the path's :id, runs a service call on it as the request's
// actor and answers 200 with the result.
func byID[Row, Resp any](c *gin.Context, call func(context.Context, *service.Actor, int64) (Row, error), conv func(Row) Resp) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	row, err := call(c.Request.Context(), actor(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, conv(row))
}

// patchByID reads the path's :id and a patch body, calls the service and
// answers 200 with the changed row.
func patchByID[Req, Row, Resp any](c *gin.Context, call func(int64, Req) (Row, error), conv func(Row) Resp) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	var req Req
	if !bindJSON(c, &req) {
		return
	}
	row, err := call(id, req)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, conv(row))
}

// listByID reads the path's :id and the page, calls the service and
// answers one page of what lies under that id.
func listByID[Row, Resp any](c *gin.Context, call func(int64, service.Page) (service.Paged[Row], error), id func(Row) int64, conv func(Row) Resp) {
	parent, ok := pathID(c, "id")
	if !ok {
		return
	}
	p, ok := page(c)
	if !ok {
		return
	}
	res, err := call(parent, p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, id, conv))
}
