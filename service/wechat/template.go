package wechat

import (
	"context"
	"net/url"
	"regexp"

	"github.com/silenceper/wechat/v2/miniprogram/subscribe"
	"github.com/silenceper/wechat/v2/util"
)

// TemplateInfo is one template of the account's own list (the
// mini-program's 我的模板, or the service account's 模板消息): its id, its
// title and the keywords its content names ({{thing1.DATA}} → thing1).
type TemplateInfo struct {
	ID, Title, Content string
	Keywords           []string
}

var templateKeyword = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\.DATA\s*\}\}`)

// Keywords lists the keywords a template's content names, in order, each
// once: "事项：{{thing1.DATA}}\n时间：{{time2.DATA}}" → thing1, time2.
func Keywords(content string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range templateKeyword.FindAllStringSubmatch(content, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			out = append(out, m[1])
		}
	}
	return out
}

const (
	subscribeTemplatesURL = "https://api.weixin.qq.com/wxaapi/newtmpl/gettemplate"
	oaTemplatesURL        = "https://api.weixin.qq.com/cgi-bin/template/get_all_private_template"
)

// Templates reads the mini-program's own subscribe-message templates
// (wxaapi/newtmpl/gettemplate). The SDK's subscribe.ListTemplates takes
// no context (so it would miss the deadline and the base URL): the same
// request is made here and decoded into its types.
func (c *Client) Templates(ctx context.Context) ([]TemplateInfo, error) {
	var out []TemplateInfo
	err := c.do(ctx, nil, func(ctx context.Context) error {
		token, err := c.mp.GetContext().GetAccessTokenContext(ctx)
		if err != nil {
			return err
		}
		body, err := util.HTTPGetContext(ctx, subscribeTemplatesURL+"?access_token="+url.QueryEscape(token))
		if err != nil {
			return err
		}
		var res subscribe.TemplateList
		if err := util.DecodeWithError(body, &res, "ListTemplates"); err != nil {
			return err
		}
		out = out[:0]
		for _, t := range res.Data {
			out = append(out, TemplateInfo{ID: t.PriTmplID, Title: t.Title, Content: t.Content, Keywords: Keywords(t.Content)})
		}
		return nil
	})
	return out, err
}

// oaTemplateList is the answer of get_all_private_template (the SDK's own
// type is unexported).
type oaTemplateList struct {
	util.CommonError
	TemplateList []struct {
		TemplateID string `json:"template_id"`
		Title      string `json:"title"`
		Content    string `json:"content"`
	} `json:"template_list"`
}

// Templates reads the service account's own template messages
// (cgi-bin/template/get_all_private_template).
func (c *OfficialAccount) Templates(ctx context.Context) ([]TemplateInfo, error) {
	var out []TemplateInfo
	err := c.do(ctx, nil, func(ctx context.Context) error {
		token, err := c.token.GetAccessTokenContext(ctx)
		if err != nil {
			return err
		}
		body, err := util.HTTPGetContext(ctx, oaTemplatesURL+"?access_token="+url.QueryEscape(token))
		if err != nil {
			return err
		}
		var res oaTemplateList
		if err := util.DecodeWithError(body, &res, "ListTemplate"); err != nil {
			return err
		}
		out = out[:0]
		for _, t := range res.TemplateList {
			out = append(out, TemplateInfo{ID: t.TemplateID, Title: t.Title, Content: t.Content, Keywords: Keywords(t.Content)})
		}
		return nil
	})
	return out, err
}
