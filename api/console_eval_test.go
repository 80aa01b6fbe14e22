package api

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"redprop/model"
	"redprop/service"
)

// evalConsole is a console browser over f whose evaluation pages open on
// the fixture's clock.
func (f *orderFixture) evalConsole() *browser {
	b := f.console()
	f.deps.Console.Clock = f.clock
	f.router = NewRouter(f.deps)
	return b
}

// consoleAs logs a fresh console browser in as name.
func (f *orderFixture) consoleAs(name string) *browser {
	f.t.Helper()
	b := f.evalConsole()
	b.logIn(f, name)
	return b
}

func navKeys(links []navLink) []string {
	var out []string
	for _, l := range links {
		out = append(out, l.Key)
	}
	return out
}

var navLinkRe = regexp.MustCompile(`id="nav-([a-z]+)"`)

// pageNav is the header entries a rendered page shows.
func pageNav(body string) []string {
	var out []string
	for _, m := range navLinkRe.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestConsoleNavByGrants(t *testing.T) {
	f := newOrderFixture(t)
	if got := navOf(&service.Actor{UserID: 1}); len(got) != 0 {
		t.Fatalf("a resident without grants sees %v", navKeys(got))
	}
	if got := navOf(f.actorOf("resident")); len(got) != 0 {
		t.Fatalf("the demo resident sees %v", navKeys(got))
	}
	for _, tc := range []struct {
		name      string
		has, hasn []string
	}{
		{"manager", []string{"queue", "scorecard", "inspections", "dashboard"}, []string{"rankings", "assess", "emergency"}},
		{"street", []string{"queue", "rankings", "assess", "inspections", "dashboard"}, []string{"scorecard"}},
		{"community", []string{"queue", "emergency", "assess", "inspections"}, []string{"rankings", "scorecard"}},
		{"worker", []string{"queue"}, []string{"rankings", "scorecard", "assess", "dashboard"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := navKeys(navOf(f.actorOf(tc.name)))
			for _, k := range tc.has {
				if !slices.Contains(want, k) {
					t.Errorf("%s lacks %s: %v", tc.name, k, want)
				}
			}
			for _, k := range tc.hasn {
				if slices.Contains(want, k) {
					t.Errorf("%s sees %s: %v", tc.name, k, want)
				}
			}
			// The page shows what the predicates say, in the list's order.
			b := f.consoleAs(tc.name)
			p := b.must(http.StatusOK, b.get("/console/queue"), "queue")
			if got := pageNav(p.Body); !slices.Equal(got, want) {
				t.Errorf("page nav %v, want %v", got, want)
			}
		})
	}
	t.Run("a page opened by its address without the grant is the service's refusal", func(t *testing.T) {
		b := f.consoleAs("manager")
		for _, path := range []string{"/console/emergency",
			"/console/assess/grid/export?period=2026-10&community_id=" + fmt.Sprint(f.city.Communities[0].ID)} {
			if p := b.get(path); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "flash error") && !strings.Contains(p.Body, "出错了") {
				t.Errorf("%s as manager: %d %.300s", path, p.Status, p.Body)
			}
		}
		w := f.consoleAs("worker")
		for _, path := range []string{"/console/rankings", "/console/appeals", "/console/flags"} {
			if p := w.get(path); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "出错了") {
				t.Errorf("%s as a firm worker: %d %.300s", path, p.Status, p.Body)
			}
		}
	})
}

var (
	scorePoints = regexp.MustCompile(`class="big score-points">([0-9.]+)<`)
	compRow     = regexp.MustCompile(`(?s)data-component="([a-z_]+)" class="(insufficient)?">.*?class="numerator">(\d+)</span> / <span class="denominator">(\d+)<`)
	assessRow   = regexp.MustCompile(`(?s)<tr data-score="(\d+)">\s*<td class="num rank">([0-9—]+)</td>.*?class="num points">([0-9.]+)<`)
	lineRow     = regexp.MustCompile(`(?s)<tr data-line="(\d+)" class="placement-([a-z]+)">.*?class="num line-score">([0-9.]+)`)
)

// A firm manager's score card and its evidence, the officials' ranked
// score cards and the grid workers' month, all as the score API says.
func TestConsoleScores(t *testing.T) {
	f := newOrderFixture(t)
	ids := []int64{f.walk("楼道灯坏了", 5), f.walk("垃圾没清运", 2), f.walk("绿化带缺水", 4)}
	mgr := f.consoleAs("manager")
	// The manager's queue across compounds holds the firm's orders.
	q := mgr.must(http.StatusOK, mgr.get("/console/queue"), "manager's queue")
	for _, id := range ids {
		if !strings.Contains(q.Body, fmt.Sprintf(`href="/console/orders/%d"`, id)) {
			t.Fatalf("the manager's queue lacks order %d", id)
		}
	}
	p := mgr.must(http.StatusOK, mgr.get("/console/scorecard?period=2026Q3"), "unscored quarter")
	if !strings.Contains(p.Body, "该考核周期尚未计算") {
		t.Fatalf("an unscored quarter: %.400s", p.Body)
	}

	f.clock.Set(time.Date(2027, 1, 5, 2, 0, 0, 0, time.UTC))
	f.tokens = map[string]string{}
	f.must(http.StatusCreated, "POST", "/api/v1/score-runs", f.token("street"), map[string]any{"kind": "firm", "period": "2026Q4"})
	f.must(http.StatusCreated, "POST", "/api/v1/score-runs", f.token("street"), map[string]any{"kind": "grid_worker", "period": "2026-12"})
	list := f.get("manager", "/api/v1/scores?kind=firm&period=2026Q4&scope_kind=compound")["items"].([]any)
	if len(list) == 0 {
		t.Fatal("no compound score for the manager")
	}
	var row map[string]any
	for _, raw := range list {
		if r := raw.(map[string]any); orderNum(r["scope_id"]) == f.city.Compounds[0].ID {
			row = r
		}
	}
	scoreID := orderNum(row["id"])

	mgr = f.consoleAs("manager")
	t.Run("the score card opens on the last closed quarter, as the API says", func(t *testing.T) {
		p := mgr.must(http.StatusOK, mgr.get("/console/scorecard"), "score card")
		if !strings.Contains(p.Body, `<option value="2026Q4" selected>`) || !strings.Contains(p.Body, fmt.Sprintf(`data-score="%d"`, scoreID)) {
			t.Fatalf("score card %.800s", p.Body)
		}
		p = mgr.must(http.StatusOK, mgr.get(fmt.Sprintf("/console/scores/%d", scoreID)), "one card")
		if m := scorePoints.FindStringSubmatch(p.Body); m == nil || m[1] != row["score"] {
			t.Fatalf("points %v, API %v", m, row["score"])
		}
		comps := map[string][]string{}
		for _, m := range compRow.FindAllStringSubmatch(p.Body, -1) {
			comps[m[1]] = m[2:]
		}
		for _, raw := range row["components"].([]any) {
			c := raw.(map[string]any)
			got := comps[c["name"].(string)]
			if got == nil || got[1] != fmt.Sprint(c["numerator"]) || got[2] != fmt.Sprint(c["denominator"]) ||
				(got[0] == "insufficient") != (c["status"] == "insufficient") {
				t.Errorf("%s: page %v, API %v", c["name"], got, c)
			}
		}
		if row["rank_eligible"] != false || !strings.Contains(p.Body, "不参与排名") || !strings.Contains(p.Body, row["ineligible"].(string)) {
			t.Errorf("rank eligibility not shown: %v", row["ineligible"])
		}
	})
	t.Run("a component's evidence links to its orders", func(t *testing.T) {
		p := mgr.must(http.StatusOK, mgr.get(fmt.Sprintf("/console/scores/%d/evidence/satisfaction", scoreID)), "evidence")
		for _, id := range ids {
			if !strings.Contains(p.Body, fmt.Sprintf(`<a href="/console/orders/%d">`, id)) {
				t.Errorf("evidence lacks order %d", id)
			}
		}
		if n := strings.Count(p.Body, `<span class="tag ok">计入</span>`); n != 2 {
			t.Errorf("%d counted, want the two ratings of 4–5", n)
		}
		mgr.must(http.StatusOK, mgr.get(fmt.Sprintf("/console/orders/%d", ids[0])), "an evidence order")
		if p := mgr.get(fmt.Sprintf("/console/scores/%d/evidence/nonsense", scoreID)); p.Status != http.StatusNotFound || !strings.Contains(p.Body, "该考核结果没有此项指标") {
			t.Errorf("unknown component: %d", p.Status)
		}
	})
	t.Run("another community's staff are refused the card", func(t *testing.T) {
		b := f.consoleAs("community2")
		if p := b.get(fmt.Sprintf("/console/scores/%d", scoreID)); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "您无权查看该考核结果") {
			t.Fatalf("community2: %d", p.Status)
		}
		p := b.must(http.StatusOK, b.get("/console/assess?period=2026Q4"), "assess")
		if assessRow.MatchString(p.Body) {
			t.Fatal("community2 sees rows of another community")
		}
	})
	t.Run("the street's score cards ranked", func(t *testing.T) {
		b := f.consoleAs("street")
		p := b.must(http.StatusOK, b.get("/console/assess?period=2026Q4&scope_kind=compound"), "assess")
		api := f.get("street", "/api/v1/scores?kind=firm&period=2026Q4&scope_kind=compound")["items"].([]any)
		rows := assessRow.FindAllStringSubmatch(p.Body, -1)
		if len(rows) != len(api) || len(rows) == 0 {
			t.Fatalf("%d rows, API %d", len(rows), len(api))
		}
		byID := map[string]string{}
		for _, raw := range api {
			r := raw.(map[string]any)
			byID[fmt.Sprint(orderNum(r["id"]))] = r["score"].(string)
		}
		for _, r := range rows {
			if byID[r[1]] != r[3] {
				t.Errorf("row %s: %s, API %s", r[1], r[3], byID[r[1]])
			}
		}
	})
	t.Run("the grid workers' month and its workbook", func(t *testing.T) {
		b := f.consoleAs("community")
		p := b.must(http.StatusOK, b.get("/console/assess/grid?period=2026-12"), "grid month")
		api := f.get("community", "/api/v1/scores?kind=grid_worker&period=2026-12")["items"].([]any)
		if len(api) == 0 || !strings.Contains(p.Body, api[0].(map[string]any)["user_name"].(string)) {
			t.Fatalf("grid month %.600s", p.Body)
		}
		href := fmt.Sprintf("/console/assess/grid/export?period=2026-12&community_id=%d", f.city.Communities[0].ID)
		if !strings.Contains(p.Body, href) {
			t.Fatalf("no export link %s in %s", href, p.Body)
		}
		x := b.must(http.StatusOK, b.get(href), "export")
		if x.Header.Get("Content-Type") != xlsxMime || !strings.HasPrefix(x.Body, "PK") {
			t.Fatalf("export %v", x.Header)
		}
		if p := b.get("/console/assess/grid/export?period=2026-12"); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "请指定要导出的社区") {
			t.Fatalf("export without a community: %d", p.Status)
		}
	})
}

// The street's 红黑榜 from the draft to an appeal's correction through
// the console, each step checked against the API; the manager's side of
// the appeal; the flag of two black quarters.
func TestConsoleRankings(t *testing.T) {
	s := newTestServer(t)
	rc := s.rankingCity()
	s.scores(rc, "2026Q1", map[[2]int]int64{{1, 1}: 9000, {2, 2}: 8700, {3, 3}: 8100, {1, 4}: 8500, {0, 0}: 5500})
	s.scores(rc, "2026Q2", map[[2]int]int64{{1, 1}: 9250, {2, 2}: 8800, {3, 3}: 8000, {1, 4}: 7000, {0, 0}: 6000, {0, 1}: -1})
	f := &orderFixture{testServer: s, city: rc.City, tokens: map[string]string{}, cats: map[string]int64{}}
	street := f.consoleAs("street")
	scope := fmt.Sprintf("street:%d", rc.StreetID)

	draft := func(period string) int64 {
		t.Helper()
		p := street.must(http.StatusNoContent, street.post("/console/rankings", url.Values{"kind": {"list"}, "scope": {scope}, "period": {period}}), "draft")
		var id int64
		if _, err := fmt.Sscanf(p.Header.Get("HX-Redirect"), "/console/rankings/%d", &id); err != nil {
			t.Fatalf("draft redirect %v", p.Header)
		}
		return id
	}
	t.Run("the draft form offers the street; bad input is the service's message", func(t *testing.T) {
		p := street.must(http.StatusOK, street.get("/console/rankings"), "rankings")
		if !strings.Contains(p.Body, `<option value="`+scope+`">`) {
			t.Fatalf("no street in the draft form: %.600s", p.Body)
		}
		if p := street.post("/console/rankings", url.Values{"kind": {"list"}, "scope": {scope}, "period": {"2026Q4"}}); p.Status != http.StatusUnprocessableEntity ||
			!strings.Contains(p.Body, "考核期尚未结束") || p.Header.Get("HX-Retarget") != "#flash" {
			t.Fatalf("open quarter: %d %s", p.Status, p.Body)
		}
		if p := street.post("/console/rankings", url.Values{"kind": {"list"}, "scope": {"nonsense"}, "period": {"2026Q1"}}); p.Status != http.StatusBadRequest {
			t.Fatalf("bad scope: %d", p.Status)
		}
	})
	t.Run("CSRF on the draft", func(t *testing.T) {
		p := street.send(http.MethodPost, "/console/rankings", url.Values{"kind": {"list"}, "scope": {scope}, "period": {"2026Q1"}},
			"HX-Request", "true", "X-CSRF-Token", "forged")
		if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "页面已过期") {
			t.Fatalf("forged token: %d", p.Status)
		}
		var n int64
		s.db.Model(&model.Ranking{}).Count(&n)
		if n != 0 {
			t.Fatalf("%d rankings after a forged post", n)
		}
	})

	q1 := draft("2026Q1")
	street.must(http.StatusOK, street.post(fmt.Sprintf("/console/rankings/%d/publish", q1), url.Values{}), "publish Q1")
	id := draft("2026Q2")
	path := fmt.Sprintf("/console/rankings/%d", id)
	apiPath := fmt.Sprintf("/api/v1/rankings/%d", id)

	t.Run("the draft's lines are the API's", func(t *testing.T) {
		p := street.must(http.StatusOK, street.get(path), "draft page")
		api := f.get("street", apiPath)
		lines := lineRow.FindAllStringSubmatch(p.Body, -1)
		if len(lines) != len(api["lines"].([]any)) || !strings.Contains(p.Body, `id="publish"`) {
			t.Fatalf("%d lines, API %d", len(lines), len(api["lines"].([]any)))
		}
		for i, raw := range api["lines"].([]any) {
			l := raw.(map[string]any)
			if lines[i][1] != fmt.Sprint(orderNum(l["id"])) || lines[i][2] != l["placement"] || lines[i][3] != l["score"] {
				t.Errorf("line %d: page %v, API %v %v %v", i, lines[i][1:], l["id"], l["placement"], l["score"])
			}
		}
	})
	t.Run("community staff and the manager do not see drafts", func(t *testing.T) {
		c := f.consoleAs("community")
		if p := c.get("/console/rankings"); p.Status != http.StatusForbidden {
			t.Errorf("community lists rankings: %d", p.Status)
		}
		if p := c.get(path); p.Status != http.StatusForbidden {
			t.Errorf("community reads the draft: %d", p.Status)
		}
		m := f.consoleAs("manager")
		if p := m.get(path); p.Status != http.StatusNotFound || !strings.Contains(p.Body, "榜单不存在") {
			t.Errorf("manager reads the draft: %d", p.Status)
		}
	})
	api := f.get("street", apiPath)
	red2 := findLine(t, response{Body: api}, rc.firms[2], rc.compounds[2].ID)
	remove := fmt.Sprintf("%s/lines/%d/remove", path, orderNum(red2["id"]))
	t.Run("a line removed with its reason", func(t *testing.T) {
		if p := street.post(remove, url.Values{"reason": {""}}); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "请填写理由") {
			t.Fatalf("removal without a reason: %d %s", p.Status, p.Body)
		}
		p := street.must(http.StatusOK, street.post(remove, url.Values{"reason": {"该项目本季度发生消防安全事故"}}), "remove")
		if !strings.Contains(p.Body, "已移出该条目") || !strings.Contains(p.Body, "该项目本季度发生消防安全事故") {
			t.Fatalf("after removal %.400s", p.Body)
		}
		if l := findLine(t, response{Body: f.get("street", apiPath)}, rc.firms[2], rc.compounds[2].ID); l["placement"] != "removed" {
			t.Fatalf("API line %v", l)
		}
	})
	t.Run("published: immutable, no more forms", func(t *testing.T) {
		p := street.must(http.StatusOK, street.post(path+"/publish", url.Values{}), "publish")
		if !strings.Contains(p.Body, "榜单已发布") || strings.Contains(p.Body, `id="publish"`) || strings.Contains(p.Body, `class="remove"`) {
			t.Fatalf("published body %.600s", p.Body)
		}
		if p := street.post(remove, url.Values{"reason": {"发布后再改"}}); p.Status != http.StatusConflict || !strings.Contains(p.Body, "榜单已发布") {
			t.Fatalf("removal after publication: %d", p.Status)
		}
		if f.get("street", apiPath)["state"] != "published" {
			t.Fatal("not published")
		}
	})

	t.Run("flags of two black quarters; the street talks", func(t *testing.T) {
		flags := f.get("street", "/api/v1/ranking-flags")["items"].([]any)
		if len(flags) != 1 {
			t.Fatalf("flags %v, want the demo firm's at 金日天玺", flags)
		}
		fl := flags[0].(map[string]any)
		p := street.must(http.StatusOK, street.get("/console/flags"), "flags")
		if !strings.Contains(p.Body, fmt.Sprintf(`data-flag="%d"`, orderNum(fl["id"]))) {
			t.Fatalf("flags page %.600s", p.Body)
		}
		if fl["state"] != "open" || !strings.Contains(p.Body, "记录谈话提醒") {
			t.Fatalf("flag %v", fl)
		}
		talk := fmt.Sprintf("/console/flags/%d/talk", orderNum(fl["id"]))
		if p := street.post(talk, url.Values{"note": {""}}); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "请填写谈话情况") {
			t.Fatalf("talk without a note: %d", p.Status)
		}
		p = street.must(http.StatusOK, street.post(talk, url.Values{"note": {"已约谈项目经理"}}), "talk")
		if !strings.Contains(p.Body, "已记录谈话提醒") || !strings.Contains(p.Body, "已约谈项目经理") {
			t.Fatalf("after the talk %.400s", p.Body)
		}
		if got := f.get("street", fmt.Sprintf("/api/v1/ranking-flags/%d", orderNum(fl["id"]))); got["state"] != "talked" {
			t.Fatalf("flag %v", got)
		}
	})
	mgr := f.consoleAs("manager")
	var appealID int64
	black := findLine(t, response{Body: f.get("street", apiPath)}, rc.firms[0], rc.compounds[0].ID)
	t.Run("the manager finds the list on the score card and appeals the black entry", func(t *testing.T) {
		p := mgr.must(http.StatusOK, mgr.get("/console/scorecard?period=2026Q2"), "score card")
		if !strings.Contains(p.Body, `href="`+path+`"`) {
			t.Fatalf("the published list is not on the score card")
		}
		p = mgr.must(http.StatusOK, mgr.get(path), "firm view")
		if n := len(lineRow.FindAllStringSubmatch(p.Body, -1)); n != 2 || !strings.Contains(p.Body, `class="appeal"`) {
			t.Fatalf("the firm's view has %d lines", n)
		}
		form := url.Values{"ranking_id": {fmt.Sprint(id)}, "line_id": {fmt.Sprint(orderNum(black["id"]))}, "key": {"k-1"}}
		form.Set("text", "太短")
		if p := mgr.post("/console/appeals", form); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "申诉理由须为 5 到 2000 个字") {
			t.Fatalf("short appeal: %d %s", p.Status, p.Body)
		}
		form.Set("text", "本季度投诉为同一漏水事项的重复投诉，请合并计算")
		r := mgr.must(http.StatusNoContent, mgr.post("/console/appeals", form), "appeal")
		if _, err := fmt.Sscanf(r.Header.Get("HX-Redirect"), "/console/appeals/%d", &appealID); err != nil {
			t.Fatalf("appeal redirect %v", r.Header)
		}
		// The same form sent twice files once.
		mgr.must(http.StatusNoContent, mgr.post("/console/appeals", form), "appeal again")
		var n int64
		s.db.Model(&model.Appeal{}).Count(&n)
		if n != 1 {
			t.Fatalf("%d appeals", n)
		}
		other := findLine(t, response{Body: f.get("street", apiPath)}, rc.firms[1], rc.compounds[4].ID)
		form.Set("line_id", fmt.Sprint(orderNum(other["id"])))
		form.Set("key", "k-2")
		if p := mgr.post("/console/appeals", form); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "只有该物业企业的经理") {
			t.Fatalf("appeal of another firm's line: %d", p.Status)
		}
	})
	appealPath := fmt.Sprintf("/console/appeals/%d", appealID)
	t.Run("the exchange and the decision", func(t *testing.T) {
		p := street.must(http.StatusOK, street.get("/console/appeals?state=pending"), "appeals")
		if !strings.Contains(p.Body, fmt.Sprintf(`data-appeal="%d"`, appealID)) {
			t.Fatalf("the street's appeals lack #%d", appealID)
		}
		street.must(http.StatusOK, street.post(appealPath+"/notes", url.Values{"text": {"请补充投诉的工单号"}}), "note")
		p = mgr.must(http.StatusOK, mgr.get(appealPath), "manager's appeal")
		if !strings.Contains(p.Body, "请补充投诉的工单号") || strings.Contains(p.Body, `id="decide-form"`) {
			t.Fatalf("manager's view of the exchange %.600s", p.Body)
		}
		mgr.must(http.StatusOK, mgr.post(appealPath+"/notes", url.Values{"text": {"GD202604030011 等，均为 3 号楼顶层漏水"}}), "answer")
		if p := mgr.post(appealPath+"/decide", url.Values{"outcome": {"corrected"}, "text": {"自己复核"}}); p.Status != http.StatusForbidden {
			t.Fatalf("the manager decides: %d", p.Status)
		}
		p = street.must(http.StatusOK, street.post(appealPath+"/decide", url.Values{"outcome": {"corrected"}, "text": {"经核实合并计算，移出黑榜"}}), "decide")
		if !strings.Contains(p.Body, "复核结论：予以更正") || !strings.Contains(p.Body, `id="correction"`) {
			t.Fatalf("decided %.600s", p.Body)
		}
		ap := f.get("street", fmt.Sprintf("/api/v1/appeals/%d", appealID))
		if ap["state"] != "corrected" || len(ap["events"].([]any)) != 4 {
			t.Fatalf("API appeal %v", ap)
		}
		if p := street.post(appealPath+"/decide", url.Values{"outcome": {"upheld"}, "text": {"改主意"}}); p.Status != http.StatusConflict || !strings.Contains(p.Body, "该申诉已有复核结论") {
			t.Fatalf("decided twice: %d", p.Status)
		}
		corr := orderNum(ap["correction_id"])
		p = street.must(http.StatusOK, street.get(path), "the first version")
		if !strings.Contains(p.Body, fmt.Sprintf(`href="/console/rankings/%d" id="superseded-by"`, corr)) {
			t.Fatalf("the superseded version does not point to the correction")
		}
		p = street.must(http.StatusOK, street.get(fmt.Sprintf("/console/rankings/%d", corr)), "the correction")
		if !strings.Contains(p.Body, "本版更正了") || !strings.Contains(p.Body, `id="revise"`) {
			t.Fatalf("correction page %.600s", p.Body)
		}
	})
	t.Run("an appeal past its due time is marked overdue", func(t *testing.T) {
		live := f.get("street", "/api/v1/rankings?period=2026Q2&state=published")["items"].([]any)
		corr := orderNum(live[0].(map[string]any)["id"])
		line := findLine(t, response{Body: f.get("street", fmt.Sprintf("/api/v1/rankings/%d", corr))}, rc.firms[0], rc.compounds[0].ID)
		mgr.must(http.StatusNoContent, mgr.post("/console/appeals", url.Values{"ranking_id": {fmt.Sprint(corr)},
			"line_id": {fmt.Sprint(orderNum(line["id"]))}, "component": {"satisfaction"}, "key": {"k-3"},
			"text": {"满意率统计包含了已撤销的工单，请复核"}}), "component appeal")
		f.clock.Advance(30 * 24 * time.Hour)
		f.tokens = map[string]string{}
		b := f.consoleAs("street")
		p := b.must(http.StatusOK, b.get("/console/appeals?state=pending&overdue=1"), "overdue")
		if strings.Count(p.Body, `<tr data-appeal=`) != 1 || !strings.Contains(p.Body, "逾期未复核</span>") {
			t.Fatalf("overdue list %.800s", p.Body)
		}
	})
}

// A firm manager reads the inspections of the firm and answers a
// deducted item once; other communities' staff are refused.
func TestConsoleInspections(t *testing.T) {
	f := newOrderFixture(t)
	comp := f.city.Compounds[0].ID
	cl := f.get("community", fmt.Sprintf("/api/v1/checklists?compound_id=%d", comp))["items"].([]any)
	sheet := f.get("manager", fmt.Sprintf("/api/v1/checklists/%d", orderNum(cl[0].(map[string]any)["id"])))
	clean := checklistItemID(t, sheet, "楼道及公共区域保洁")
	ins := f.must(http.StatusCreated, "POST", "/api/v1/inspections", f.token("community"), map[string]any{
		"compound_id": comp, "kind": "daily", "default_result": "pass",
		"items": []map[string]any{{"item_id": clean, "result": "deduct", "deduct": 2, "note": "楼道积尘"}},
	}, "Idempotency-Key", "console-daily-1").Body
	id := orderNum(ins["id"])
	var item int64
	for _, raw := range ins["items"].([]any) {
		if it := raw.(map[string]any); it["result"] == "deduct" {
			item = orderNum(it["id"])
		}
	}
	mgr := f.consoleAs("manager")
	p := mgr.must(http.StatusOK, mgr.get("/console/inspections"), "inspections")
	if !strings.Contains(p.Body, fmt.Sprintf(`data-inspection="%d"`, id)) || !strings.Contains(p.Body, "日查") {
		t.Fatalf("list %.600s", p.Body)
	}
	p = mgr.must(http.StatusOK, mgr.get(fmt.Sprintf("/console/inspections/%d", id)), "inspection")
	if !strings.Contains(p.Body, fmt.Sprintf(`id="inspection-score">%.2f<`, ins["score"])) {
		t.Fatalf("score not shown (API %v): %.600s", ins["score"], p.Body)
	}
	if strings.Count(p.Body, `class="answer"`) != 1 {
		t.Fatalf("want one answer form (the deducted item)")
	}
	answer := fmt.Sprintf("/console/inspections/%d/items/%d/answer", id, item)
	if p := mgr.post(answer, url.Values{"answer": {""}}); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "答复须为 1 到 1000 个字") {
		t.Fatalf("empty answer: %d", p.Status)
	}
	p = mgr.must(http.StatusOK, mgr.post(answer, url.Values{"answer": {"已安排保洁当日重新清扫"}}), "answer")
	if !strings.Contains(p.Body, "已答复") || strings.Contains(p.Body, `class="answer"`) {
		t.Fatalf("after the answer %.600s", p.Body)
	}
	got := f.get("manager", fmt.Sprintf("/api/v1/inspections/%d", id))
	for _, raw := range got["items"].([]any) {
		if it := raw.(map[string]any); orderNum(it["id"]) == item && it["answer"] != "已安排保洁当日重新清扫" {
			t.Fatalf("API item %v", it)
		}
	}
	if p := mgr.post(answer, url.Values{"answer": {"再答一次"}}); p.Status != http.StatusConflict || !strings.Contains(p.Body, "答复不能修改") {
		t.Fatalf("second answer: %d", p.Status)
	}
	c2 := f.consoleAs("community2")
	if p := c2.get(fmt.Sprintf("/console/inspections/%d", id)); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "不在您的管辖范围内") {
		t.Fatalf("community2: %d", p.Status)
	}
	if p := c2.post(answer, url.Values{"answer": {"替人答复"}}); p.Status != http.StatusForbidden {
		t.Fatalf("community2 answers: %d", p.Status)
	}
}
