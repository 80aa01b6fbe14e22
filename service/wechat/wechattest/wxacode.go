package wechattest

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// imageAnswer is the key of an answer that is an image, not JSON.
const imageAnswer = "\x00image"

// Publish adds pages to the released build: getwxacodeunlimit with
// check_path (the default) refuses any other page with 41030, as WeChat
// does for a page not in the published mini-program. The fake starts with
// pages/index/index.
func (s *Server) Publish(pages ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range pages {
		s.pages[p] = true
	}
}

// WxaCodes returns the scenes of the codes the fake has drawn, in order.
func (s *Server) WxaCodes() []string {
	var out []string
	for _, r := range s.Requests() {
		if r.Endpoint == WxaCodeUnlimit && r.ErrCode == 0 && r.Status == 200 {
			scene, _ := r.Body["scene"].(string)
			out = append(out, scene)
		}
	}
	return out
}

var sceneChars = regexp.MustCompile(`^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]+$`)

// wxaCodeUnlimit answers like getwxacodeunlimit: a JPEG, or JSON with
// 40129 for a scene of more than 32 characters or outside WeChat's set,
// 41030 for a page with a leading slash or a query or not published
// (when check_path is not false), 40097 for a width outside 280–1280 or an
// unknown env_version.
func (s *Server) wxaCodeUnlimit(r *Request) answer {
	scene, _ := r.Body["scene"].(string)
	page, _ := r.Body["page"].(string)
	env, _ := r.Body["env_version"].(string)
	check, given := r.Body["check_path"].(bool)
	width, hasWidth := r.Body["width"].(float64)
	switch {
	case scene == "" || len([]rune(scene)) > 32 || !sceneChars.MatchString(scene):
		return refuse(40129)
	case strings.HasPrefix(page, "/") || strings.ContainsAny(page, "?#"):
		return refuse(41030)
	case page != "" && (!given || check) && !s.pages[page]:
		return refuse(41030)
	case hasWidth && (width < 280 || width > 1280):
		return refuse(40097, "width")
	case !slices.Contains([]string{"", "release", "trial", "develop"}, env):
		return refuse(40097, "env_version")
	}
	size := 280
	if hasWidth {
		size = int(width)
	}
	img := image.NewGray(image.Rect(0, 0, size, size))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	// A dark square per scene byte along the diagonal: enough to tell two
	// codes apart in a test.
	for i, b := range []byte(scene) {
		img.SetGray(i%size, int(b)%size, color.Gray{})
	}
	var buf bytes.Buffer
	jpeg.Encode(&buf, img, nil)
	return answer{imageAnswer: buf.Bytes()}
}

// Post sends body to a mini-program endpoint of the fake with a valid
// token, as a client other than the SDK would, and returns the errcode
// answered (0 for an image or success).
func (s *Server) Post(t testing.TB, endpoint string, body map[string]any) int {
	t.Helper()
	s.mu.Lock()
	tok := s.newToken(s.appID)
	s.mu.Unlock()
	raw, _ := json.Marshal(body)
	res, err := http.Post(s.URL()+endpoint+"?access_token="+tok, "application/json", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		return 0
	}
	var a struct {
		ErrCode int `json:"errcode"`
	}
	if err := json.NewDecoder(res.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	return a.ErrCode
}
