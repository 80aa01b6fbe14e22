package wechat

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"time"

	"github.com/silenceper/wechat/v2/util"
)

// realHost is where every miniprogram API of the SDK points.
const realHost = "api.weixin.qq.com"

// The SDK has no base-URL setting and sends everything through one
// process-wide client, util.DefaultHTTPClient. install replaces it, once per
// process, with a client whose transport reroutes api.weixin.qq.com to the
// base URL carried by each request's context. The target travels with the
// call rather than living in the hook, so several Clients pointed at
// different servers (one fake per test) coexist. Every call this package
// makes passes a context; a call without one would go to the real host.
var installOnce sync.Once

func install(timeout time.Duration) {
	installOnce.Do(func() {
		// The per-call context deadline (Options.Timeout of each Client) is
		// what bounds a call; this is a backstop taken from the first Client.
		util.DefaultHTTPClient = &http.Client{
			Timeout:   timeout,
			Transport: rerouter{next: http.DefaultTransport},
		}
	})
}

type baseURLKey struct{}

// withBase makes the calls made with ctx go to base instead of the real host.
func withBase(ctx context.Context, base *url.URL) context.Context {
	if base == nil {
		return ctx
	}
	return context.WithValue(ctx, baseURLKey{}, base)
}

type rerouter struct{ next http.RoundTripper }

func (rt rerouter) RoundTrip(req *http.Request) (*http.Response, error) {
	base, ok := req.Context().Value(baseURLKey{}).(*url.URL)
	if !ok || req.URL.Host != realHost {
		return rt.next.RoundTrip(req)
	}
	// A RoundTripper must not modify the caller's request.
	r := req.Clone(req.Context())
	r.URL.Scheme = base.Scheme
	r.URL.Host = base.Host
	r.URL.Path = base.Path + r.URL.Path
	r.URL.RawPath = ""
	r.Host = ""
	return rt.next.RoundTrip(r)
}

// The SDK puts the app secret and the access token in query strings, and
// both url.Error and its own non-200 errors quote the whole URL.
var secretParam = regexp.MustCompile(`((?:secret|access_token|js_code)=)[^&\s"]*`)

// redacted is a transport error with credentials cut from its text; the
// cause stays reachable for errors.Is (timeouts, cancellation).
type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }

func redact(err error) error {
	return &redacted{msg: secretParam.ReplaceAllString(err.Error(), "${1}***"), err: err}
}
