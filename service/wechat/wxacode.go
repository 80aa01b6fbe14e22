package wechat

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"regexp"

	"github.com/silenceper/wechat/v2/miniprogram/qrcode"
	"github.com/silenceper/wechat/v2/util"

	"redprop/service"
)

const wxaCodeUnlimitURL = "https://api.weixin.qq.com/wxa/getwxacodeunlimit"

// sceneShape is what getwxacodeunlimit takes as a scene: at most 32
// visible characters of digits, letters and !#$&'()*+,/:;=?@-._~.
var sceneShape = regexp.MustCompile(`^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}$`)

// ErrBadScene is a scene WeChat would refuse (40129).
var ErrBadScene = service.Invalid("wechat_bad_scene", "小程序码参数不正确")

// envVersion is the getwxacodeunlimit name of a miniprogram state.
func envVersion(state string) string {
	switch state {
	case "developer":
		return "develop"
	case "trial":
		return "trial"
	}
	return "release"
}

// WxaCode makes an unlimited mini-program code (getwxacodeunlimit) that
// opens page with scene, as a JPEG. The SDK's GetWXACodeUnlimit has no
// context (it would lose the deadline and the base URL), so the request is
// made here with the SDK's request type. WeChat answers an image on
// success and JSON on error (40129 bad scene, 41030 page not published,
// 45009 daily quota …), which become upstream errors holding the
// *APIError.
func (c *Client) WxaCode(ctx context.Context, scene, page string) ([]byte, error) {
	if !sceneShape.MatchString(scene) {
		return nil, ErrBadScene
	}
	release := c.state == "formal"
	req := qrcode.QRCoder{Page: page, Scene: scene, Width: 430, EnvVersion: envVersion(c.state),
		// Only a released build's pages can be checked; a trial or
		// developer build's page may not be published yet.
		CheckPath: &release}
	var img []byte
	err := c.do(ctx, nil, func(ctx context.Context) error {
		token, err := c.mp.GetContext().GetAccessTokenContext(ctx)
		if err != nil {
			return err
		}
		body, err := util.PostJSONContext(ctx, wxaCodeUnlimitURL+"?access_token="+url.QueryEscape(token), req)
		if err != nil {
			return err
		}
		if len(body) > 0 && body[0] == '{' {
			if err := util.DecodeWithCommonError(body, "getwxacodeunlimit"); err != nil {
				return err
			}
			return errors.New("getwxacodeunlimit answered JSON without an image")
		}
		img = body
		return nil
	})
	return img, err
}

// WxaCode draws a stand-in for the mini-program code in the sandbox: a
// pattern of the scene's digest (a PNG), so that each ticket looks
// different, with nothing to scan — the sandbox page confirms the ticket
// with a button instead.
func (s *Sandbox) WxaCode(ctx context.Context, scene, page string) ([]byte, error) {
	if !sceneShape.MatchString(scene) {
		return nil, ErrBadScene
	}
	sum := sha256.Sum256([]byte(page + "\x00" + scene))
	const cells, cell = 16, 12
	img := image.NewPaletted(image.Rect(0, 0, cells*cell, cells*cell),
		color.Palette{color.White, color.RGBA{0x1a, 0x7f, 0x37, 0xff}})
	for y := 0; y < cells; y++ {
		for x := 0; x < cells; x++ {
			// Mirrored left to right, like an identicon.
			bx := x
			if bx >= cells/2 {
				bx = cells - 1 - x
			}
			bit := sum[(y*cells/2+bx)/8] >> ((y*cells/2 + bx) % 8) & 1
			if bit == 0 {
				continue
			}
			for dy := 0; dy < cell; dy++ {
				for dx := 0; dx < cell; dx++ {
					img.SetColorIndex(x*cell+dx, y*cell+dy, 1)
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
