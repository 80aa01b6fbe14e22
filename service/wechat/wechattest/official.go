package wechattest

import (
	"maps"
	"slices"
	"unicode/utf8"
)

// The service account's endpoints. Its openids are its own: a person who
// uses the mini-program and follows the account has two, tied by the
// unionid when both apps are bound to one open-platform account.

// oaUserInfo answers cgi-bin/user/info: the follower record, or only
// subscribe=0 and the openid for someone who stopped following.
func (s *Server) oaUserInfo(r *Request) answer {
	openID := r.Query.Get("openid")
	f, known := s.followers[openID]
	switch {
	case openID == "":
		return refuse(41009)
	case !known:
		return refuse(40003)
	case !f.following:
		return answer{"subscribe": 0, "openid": openID}
	}
	a := answer{
		"subscribe": 1, "openid": openID, "nickname": "", "sex": 0, "language": "zh_CN",
		"city": "", "province": "", "country": "", "headimgurl": "", "subscribe_time": 1700000000,
		"remark": "", "groupid": 0, "tagid_list": []int{}, "subscribe_scene": "ADD_SCENE_QR_CODE",
		"qr_scene": 0, "qr_scene_str": "",
	}
	if f.unionID != "" {
		a["unionid"] = f.unionID
	}
	return a
}

// oaTemplateSend answers cgi-bin/message/template/send. Typed keys
// (thing1, time2 …) obey the same limits as subscribe messages; keys of
// the old style (first, keyword1, remark) must not be empty. A repeat of
// a client_msg_id to the same openid answers the first push's msgid and
// delivers nothing more.
func (s *Server) oaTemplateSend(r *Request) answer {
	toUser, _ := r.Body["touser"].(string)
	template, _ := r.Body["template_id"].(string)
	clientMsgID, _ := r.Body["client_msg_id"].(string)
	data, _ := r.Body["data"].(map[string]any)
	f, known := s.followers[toUser]
	switch {
	case toUser == "" || !known:
		return refuse(40003)
	case template == "":
		return refuse(40037)
	case len(data) == 0:
		return refuse(47003, "data is empty")
	}
	if mp, ok := r.Body["miniprogram"].(map[string]any); ok {
		if appID, _ := mp["appid"].(string); appID == "" {
			return refuse(47003, "miniprogram.appid invalid")
		}
	}
	for _, key := range slices.Sorted(maps.Keys(data)) {
		item, _ := data[key].(map[string]any)
		value, isString := item["value"].(string)
		if !isString || !FieldOK(key, value) || utf8.RuneCountInString(value) > 200 {
			return refuse(47003, "data."+key+".value invalid")
		}
	}
	if a := checkKeywords(s.oaList, template, data, false); a != nil {
		return a
	}
	switch {
	case !f.following:
		return refuse(43004)
	case s.refused[[2]string{toUser, template}]:
		return refuse(43101)
	}
	k := [2]string{toUser, clientMsgID}
	if id, seen := s.clientMsg[k]; seen && clientMsgID != "" {
		return ok(answer{"msgid": id})
	}
	s.seq++
	if clientMsgID != "" {
		s.clientMsg[k] = s.seq
	}
	s.templates = append(s.templates, templatePush{toUser: toUser, body: r.Body})
	return ok(answer{"msgid": s.seq})
}

type templatePush struct {
	toUser string
	body   map[string]any
}

// Templates returns the bodies of the template messages delivered to
// openID (repeats of a client_msg_id not counted), oldest first.
func (s *Server) Templates(openID string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, p := range s.templates {
		if p.toUser == openID {
			out = append(out, p.body)
		}
	}
	return out
}

// Following reports whether openID follows the service account.
func (s *Server) Following(openID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.followers[openID]
	return f != nil && f.following
}
