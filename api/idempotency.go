package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"redprop/service"
	"redprop/service/idem"
)

// idempotent wraps a create endpoint: a request with an Idempotency-Key
// header runs once per user and key; a repeat of it gets the first answer
// again (with Idempotent-Replayed: true), a repeat while the first still
// runs gets 409, and the same key with another body 422. Refusals (4xx)
// are not kept, so a corrected retry with the same key goes through; a
// 5xx holds the key until its lease ends.
//
// While Redis is unreachable a request with a key answers 503: the client
// asked for at most one copy, and without Redis that cannot be promised.
// Requests without a key never touch Redis; nor do the endpoints that keep
// the key in their own rows only (orders, votes, wishes).
func (h *handlers) idempotent(next gin.HandlerFunc) gin.HandlerFunc {
	return h.idempotency(next, false)
}

// idempotentOrPass is idempotent for an endpoint that needs Redis for the
// replay only, not for "at most one copy": one that keeps the key in its
// own row as well (meetings, action items), or whose duplicate harms
// nobody (a second copy of an uploaded photo that nothing refers to).
// While Redis is unreachable it runs the request without the Redis replay
// instead of refusing it.
func (h *handlers) idempotentOrPass(next gin.HandlerFunc) gin.HandlerFunc {
	return h.idempotency(next, true)
}

// idemBudget bounds the claim of a key, so a frozen Redis costs a request
// no more than this.
const idemBudget = 500 * time.Millisecond

func (h *handlers) idempotency(next gin.HandlerFunc, pass bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		key := c.GetHeader("Idempotency-Key")
		a := actor(c)
		if key == "" || h.Idem == nil || a == nil {
			next(c)
			return
		}
		if _, ok := idemKey(c); !ok {
			return
		}
		fp, err := fingerprint(c)
		if err != nil {
			fail(c, err)
			return
		}
		ctx := c.Request.Context()
		bctx, cancel := context.WithTimeout(ctx, idemBudget)
		prev, claim, err := h.Idem.Begin(bctx, a.UserID, key, fp)
		cancel()
		if se := (*service.Error)(nil); pass && errors.As(err, &se) && se.Code == idem.ErrUnavailable.Code {
			h.Log.WarnContext(ctx, "idempotency key not kept: redis unreachable", "err", err, "request_id", requestID(c))
			next(c)
			return
		}
		if err != nil {
			fail(c, err)
			return
		}
		if claim == nil {
			c.Header("Idempotent-Replayed", "true")
			c.Data(prev.Status, prev.ContentType, prev.Body)
			c.Abort()
			return
		}
		rec := &recorder{ResponseWriter: c.Writer}
		c.Writer = rec
		next(c)
		// The answer is kept even when the client has gone: that is when
		// it will retry.
		keep := context.WithoutCancel(ctx)
		switch status := rec.Status(); {
		case status >= 200 && status < 300:
			err = h.Idem.Finish(keep, claim, idem.Answer{Status: status,
				ContentType: rec.Header().Get("Content-Type"), Body: rec.body.Bytes(), Fingerprint: fp})
		case status >= 400 && status < 500:
			err = h.Idem.Abort(keep, claim)
		default:
			// A 5xx may have written before it failed: the key stays taken
			// until its lease ends, so an immediate retry cannot make a
			// second copy.
		}
		if err != nil {
			h.Log.WarnContext(ctx, "idempotency record", "err", err)
		}
	}
}

// idemKey reads the Idempotency-Key header ("" when there is none),
// answering 400 bad_idempotency_key unless it is 1–64 visible ASCII
// characters. Every endpoint that takes the header reads it here.
func idemKey(c *gin.Context) (string, bool) {
	k := c.GetHeader("Idempotency-Key")
	if err := service.CheckIdemKey(k); err != nil {
		fail(c, err)
		return k, false
	}
	return k, true
}

// fingerprint names the request: method, path and a hash of a JSON body
// (which stays readable for the handler). Uploads are named by their
// length, so that a large file is not held in memory twice.
func fingerprint(c *gin.Context) (string, error) {
	sum := sha256.New()
	io.WriteString(sum, c.Request.Method+" "+c.Request.URL.Path+"\n")
	if strings.HasPrefix(c.ContentType(), "multipart/") {
		io.WriteString(sum, "multipart "+strconv.FormatInt(c.Request.ContentLength, 10))
		return hex.EncodeToString(sum.Sum(nil)), nil
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return "", errBodyTooBig
		}
		return "", errBadJSON.Wrap(err)
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	sum.Write(body)
	return hex.EncodeToString(sum.Sum(nil)), nil
}

// recorder keeps a copy of what the handler writes.
type recorder struct {
	gin.ResponseWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) WriteString(s string) (int, error) {
	r.body.WriteString(s)
	return r.ResponseWriter.WriteString(s)
}
