package wechattest

import (
	"context"
	"errors"

	"redprop/service/wechat"
)

// LateChecker stands in for WeChat in tests of the text check that WeChat
// could not answer at the time: MsgCheck fails until Verdict is set (pass,
// review or risky), then answers it. Pushes succeed and go nowhere.
type LateChecker struct{ Verdict string }

// SendSubscribe accepts every push.
func (c *LateChecker) SendSubscribe(context.Context, wechat.SubscribeMessage) error { return nil }

// MsgCheck is unreachable until Verdict is set.
func (c *LateChecker) MsgCheck(context.Context, string, int, string) (wechat.Verdict, error) {
	if c.Verdict == "" {
		return wechat.Verdict{}, errors.New("wechattest: WeChat unreachable")
	}
	return wechat.Verdict{Suggest: c.Verdict, Label: "其他"}, nil
}
