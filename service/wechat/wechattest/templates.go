package wechattest

import (
	"regexp"
	"slices"
)

// Template is one template of an account's own list: the mini-program's
// 我的模板 or the service account's 模板消息. Content names the keywords
// as WeChat shows them: "事项名称：{{thing1.DATA}}\n时间：{{time2.DATA}}".
type Template struct {
	ID, Title, Content string
}

// SetTemplates sets the mini-program's own subscribe-message templates.
// From then on gettemplate answers them, and a subscribe send with an id
// not among them answers 40037, one that leaves a keyword of the template
// unfilled answers 47003 (as WeChat does). Until it is called the list
// answers 48001 and sends are not checked against any template, so a
// test that does not care about templates may use any id.
func (s *Server) SetTemplates(ts ...Template) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mpList = append([]Template{}, ts...)
}

// SetOATemplates sets the service account's own templates, as
// SetTemplates does for the mini-program: get_all_private_template
// answers them and a template send with an unknown id answers 40037.
// The account leaves an unfilled keyword blank, so that is not refused.
func (s *Server) SetOATemplates(ts ...Template) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oaList = append([]Template{}, ts...)
}

// subscribeTemplates answers wxaapi/newtmpl/gettemplate.
func (s *Server) subscribeTemplates(r *Request) answer {
	if s.mpList == nil {
		return refuse(48001)
	}
	data := []any{}
	for _, t := range s.mpList {
		data = append(data, map[string]any{"priTmplId": t.ID, "title": t.Title, "content": t.Content,
			"example": "", "type": 2})
	}
	return ok(answer{"data": data})
}

// oaTemplates answers cgi-bin/template/get_all_private_template: like
// WeChat, a success carries no errcode.
func (s *Server) oaTemplates(r *Request) answer {
	if s.oaList == nil {
		return refuse(48001)
	}
	list := []any{}
	for _, t := range s.oaList {
		list = append(list, map[string]any{"template_id": t.ID, "title": t.Title, "content": t.Content,
			"primary_industry": "政府与公共事业", "deputy_industry": "政府与公共事业", "example": ""})
	}
	return answer{"template_list": list}
}

var keywordRe = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\.DATA\s*\}\}`)

// checkKeywords refuses a send whose template id is not in list (when a
// list is set) and, when every keyword must be filled, one that leaves a
// keyword of the template out.
func checkKeywords(list []Template, id string, data map[string]any, fillAll bool) answer {
	if list == nil {
		return nil
	}
	i := slices.IndexFunc(list, func(t Template) bool { return t.ID == id })
	if i < 0 {
		return refuse(40037)
	}
	if !fillAll {
		return nil
	}
	for _, m := range keywordRe.FindAllStringSubmatch(list[i].Content, -1) {
		if _, filled := data[m[1]]; !filled {
			return refuse(47003, "data."+m[1]+".value is empty")
		}
	}
	return nil
}
