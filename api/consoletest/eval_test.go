package consoletest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The evaluation in the console: a street official opens a 红黑榜 draft
// and a firm manager the score card, each figure as the API says.
func TestEvaluationPages(t *testing.T) {
	chromium(t)
	s := startServer(t)
	ctx, jsErrors := browser(t)
	dir := shots(t)
	token, _ := s.login(t, "street")
	var scopes struct {
		Items []struct {
			Kind string `json:"kind"`
			ID   int64  `json:"id"`
		} `json:"items"`
	}
	s.api(t, "GET", "/api/v1/dashboard/scopes", token, nil, &scopes)
	if len(scopes.Items) == 0 || scopes.Items[0].Kind != "street" {
		t.Fatalf("scopes %+v", scopes)
	}
	// The sandbox carries score rows of the last two closed quarters.
	var list struct {
		Items []struct {
			Period string `json:"period"`
		} `json:"items"`
	}
	var period string
	var draft struct {
		ID    int64 `json:"id"`
		Lines []struct {
			ID        int64  `json:"id"`
			Score     string `json:"score"`
			Placement string `json:"placement"`
		} `json:"lines"`
	}
	for _, p := range recentQuarters() {
		if s.api(t, "POST", "/api/v1/rankings", token, map[string]any{"kind": "list", "scope_kind": "street",
			"scope_id": scopes.Items[0].ID, "period": p}, &draft) == 201 {
			period = p
			break
		}
	}
	if period == "" {
		t.Fatalf("no quarter could be drafted: %+v", list)
	}
	run(t, ctx, "street opens the 红黑榜",
		chromedp.Navigate(s.base+"/console/login"),
		chromedp.WaitVisible(chromedp.CSS("#confirm-demo")),
		chromedp.SetValue(chromedp.CSS("#person"), "sandbox:street"),
		chromedp.Click(chromedp.CSS("#confirm-demo")),
		chromedp.WaitVisible(chromedp.CSS("#orders")),
		chromedp.Click(chromedp.CSS("#nav-rankings")),
		chromedp.WaitVisible(chromedp.CSS("#rankings")),
		screenshot(t, dir, "8-rankings"),
		chromedp.Navigate(fmt.Sprintf("%s/console/rankings/%d", s.base, draft.ID)),
		chromedp.WaitVisible(chromedp.CSS("#lines")),
		screenshot(t, dir, "9-ranking-draft"),
	)
	var lines []map[string]string
	run(t, ctx, "read the lines", into(&lines, chromedp.Evaluate[[]map[string]string](`[...document.querySelectorAll("#lines tr[data-line]")].map(r => ({
		id: r.dataset.line, score: r.querySelector(".line-score").firstChild.textContent.trim(), placement: r.className.replace("placement-", "")}))`)))
	if len(lines) != len(draft.Lines) || len(lines) == 0 {
		t.Fatalf("page lines %v, API %+v", lines, draft.Lines)
	}
	for i, l := range draft.Lines {
		if lines[i]["id"] != fmt.Sprint(l.ID) || lines[i]["score"] != l.Score || lines[i]["placement"] != l.Placement {
			t.Fatalf("line %d: page %v, API %+v", i, lines[i], l)
		}
	}

	mgr, _ := s.login(t, "manager")
	var cards struct {
		Items []struct {
			ID    int64  `json:"id"`
			Score string `json:"score"`
		} `json:"items"`
	}
	s.api(t, "GET", "/api/v1/scores?kind=firm&scope_kind=compound&period="+period, mgr, nil, &cards)
	if len(cards.Items) == 0 {
		t.Fatalf("the manager has no score card for %s", period)
	}
	var shown map[string]string
	run(t, ctx, "the manager opens the score card",
		chromedp.Click(chromedp.CSS("#logout")),
		chromedp.WaitVisible(chromedp.CSS("#confirm-demo")),
		chromedp.SetValue(chromedp.CSS("#person"), "sandbox:manager"),
		chromedp.Click(chromedp.CSS("#confirm-demo")),
		chromedp.WaitVisible(chromedp.CSS("#orders")),
		chromedp.Navigate(s.base+"/console/scorecard?period="+period),
		chromedp.WaitVisible(chromedp.CSS("#scorecards")),
		into(&shown, chromedp.Evaluate[map[string]string](`Object.fromEntries([...document.querySelectorAll("#scorecards .scorecard")].map(c =>
			[c.dataset.score, c.querySelector(".score-points").textContent.trim()]))`)),
		screenshot(t, dir, "10-scorecard"),
	)
	var nav []string
	run(t, ctx, "nav", into(&nav, chromedp.Evaluate[[]string](`[...document.querySelectorAll("header nav a")].map(a => a.id)`)))
	if strings.Contains(strings.Join(nav, " "), "nav-rankings") || !strings.Contains(strings.Join(nav, " "), "nav-scorecard") {
		t.Fatalf("the manager's nav %v", nav)
	}
	if len(shown) != len(cards.Items) {
		t.Fatalf("page cards %v, API %+v", shown, cards.Items)
	}
	for _, c := range cards.Items {
		if shown[fmt.Sprint(c.ID)] != c.Score {
			t.Fatalf("card %d: page %q, API %q", c.ID, shown[fmt.Sprint(c.ID)], c.Score)
		}
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Fatalf("JavaScript errors in the console:\n  %s", strings.Join(errs, "\n  "))
	}
}

// recentQuarters are the two quarters before the current one (Beijing
// time), newest first: those the sandbox holds scores of.
func recentQuarters() []string {
	b := time.Now().In(time.FixedZone("CST", 8*3600))
	y, q := b.Year(), (int(b.Month())-1)/3+1
	var out []string
	for range 2 {
		if q--; q == 0 {
			y, q = y-1, 4
		}
		out = append(out, fmt.Sprintf("%dQ%d", y, q))
	}
	return out
}
