package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"redprop/model"
)

// Bad text never reaches the database: invalid UTF-8 and lone surrogates
// are 400 bad_encoding, control characters in a single-line field are 400
// bad_text, and long texts keep only their newlines and tabs.
func TestTextRulesAtBinding(t *testing.T) {
	itoa := func(n int64) string { return strconv.FormatInt(n, 10) }
	s := newTestServer(t)
	c := s.loadDemo()
	admin := s.login("admin")
	city := c.DistrictID
	region := func(name string) []byte {
		return []byte(`{"level":"street","parent_id":` + itoa(city) + `,"name":"` + name + `","code":"110199"}`)
	}
	t.Run("invalid UTF-8 in a body", func(t *testing.T) {
		for _, name := range []string{"朝阳\xff区", `朝阳\ud800区`, `朝阳\udc00区`, `\ud800\u0041`} {
			r := s.do("POST", "/api/v1/regions", admin, region(name))
			if r.Status != http.StatusBadRequest || r.ErrCode() != "bad_encoding" {
				t.Errorf("name %q: %d %s", name, r.Status, r.Raw)
			}
		}
	})
	t.Run("a surrogate pair and an escaped backslash are fine", func(t *testing.T) {
		r := s.do("POST", "/api/v1/regions", admin, region(`\ud83d\ude00区 \\udc00`))
		if r.Status != http.StatusCreated || r.Body["name"] != "😀区 \\udc00" {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
	})
	t.Run("invalid UTF-8 in a query or path", func(t *testing.T) {
		for _, p := range []string{"/api/v1/orders?queue=%ff", "/api/v1/regions/%ff"} {
			r := s.do("GET", p, admin, nil)
			if r.Status != http.StatusBadRequest || r.ErrCode() != "bad_encoding" {
				t.Errorf("%s: %d %s", p, r.Status, r.Raw)
			}
		}
	})
	t.Run("control characters in single-line fields", func(t *testing.T) {
		for _, name := range []string{`朝阳\u0000区`, `朝阳\u001b[31m区`, `朝阳\u0007`, `朝阳\n区`, `\u0085`} {
			r := s.do("POST", "/api/v1/regions", admin, region(name))
			if r.Status != http.StatusBadRequest || r.ErrCode() != "bad_text" || !strings.Contains(string(r.Raw), "name") {
				t.Errorf("name %q: %d %s", name, r.Status, r.Raw)
			}
		}
		r := s.do("PUT", "/api/v1/me/name", s.login("resident"), map[string]any{"display_name": "王\x00五"})
		if r.Status != http.StatusBadRequest || r.ErrCode() != "bad_text" {
			t.Errorf("display name: %d %s", r.Status, r.Raw)
		}
	})
	t.Run("long texts are stripped but keep newline and tab", func(t *testing.T) {
		var cat model.Category
		if err := s.db.Where("code = ?", "safety_hazard").Take(&cat).Error; err != nil {
			t.Fatal(err)
		}
		r := s.must(http.StatusCreated, "POST", "/api/v1/orders", s.login("resident"), map[string]any{
			"category_id": cat.ID, "compound_id": c.Compounds[0].ID, "place": "东门",
			"description": "东门\x00堆物\x1b[0m\r\n第二行\t\x07完"})
		if got := r.Body["description"]; got != "东门堆物[0m\n第二行\t完" {
			t.Fatalf("description %q", got)
		}
	})
}

// JSON routes take JSON: another Content-Type with a body is 415 with the
// envelope; a charset of UTF-8 is fine, and so is a bodiless request.
func TestJSONRoutesRefuseOtherContentTypes(t *testing.T) {
	itoa := func(n int64) string { return strconv.FormatInt(n, 10) }
	s := newTestServer(t)
	c := s.loadDemo()
	admin := s.login("admin")
	body := `{"level":"street","parent_id":` + itoa(c.DistrictID) + `,"name":"新区","code":"110198"}`
	for _, tc := range []struct {
		ct   string
		want int
	}{
		{"text/plain", http.StatusUnsupportedMediaType},
		{"application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"multipart/form-data; boundary=x", http.StatusUnsupportedMediaType},
		{"application/json; charset=gbk", http.StatusUnsupportedMediaType},
		{"application/json;;", http.StatusUnsupportedMediaType},
		{"application/json; charset=UTF-8", http.StatusCreated},
	} {
		t.Run(tc.ct, func(t *testing.T) {
			r := s.do("POST", "/api/v1/regions", admin, body, "Content-Type", tc.ct, "Idempotency-Key", "k"+itoa(int64(len(tc.ct))))
			if r.Status != tc.want || (tc.want == 415 && r.ErrCode() != "unsupported_media_type") {
				t.Fatalf("%d %s", r.Status, r.Raw)
			}
		})
	}
	t.Run("no body, no Content-Type", func(t *testing.T) {
		s.must(http.StatusNoContent, "POST", "/api/v1/auth/logout", admin, nil)
	})
}

// HEAD answers like GET, without the body.
func TestHeadAnswersLikeGet(t *testing.T) {
	s := newTestServer(t)
	s.loadDemo()
	admin := s.login("admin")
	head := func(path, token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("HEAD", path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		s.router.ServeHTTP(w, req)
		return w
	}
	for _, tc := range []struct {
		path, token string
		want        int
	}{
		{"/healthz", "", http.StatusOK},
		{"/api/v1/regions", admin, http.StatusOK},
		{"/api/v1/regions", "", http.StatusUnauthorized},
		{"/api/v1/nowhere", "", http.StatusNotFound},
	} {
		t.Run(tc.path, func(t *testing.T) {
			w := head(tc.path, tc.token)
			get := s.do("GET", tc.path, tc.token, nil)
			if w.Code != tc.want || get.Status != tc.want || w.Body.Len() != 0 {
				t.Fatalf("HEAD %d %q, GET %d", w.Code, w.Body.String(), get.Status)
			}
			if w.Header().Get("Content-Type") != get.Header.Get("Content-Type") || w.Header().Get("Allow") != "" {
				t.Fatalf("HEAD headers %v, GET %v", w.Header(), get.Header)
			}
		})
	}
	t.Run("a path without GET", func(t *testing.T) {
		w := head("/api/v1/auth/refresh", "")
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "POST" || w.Body.Len() != 0 {
			t.Fatalf("%d %v %q", w.Code, w.Header(), w.Body.String())
		}
	})
}

// Every request type declared in this package is walked by the text rules:
// the list below must name each one (a new type fails this test until it
// is added), and in each, every string field but those tagged block is
// refused with a control character while block fields are stripped.
func TestTextRulesCoverEveryRequestType(t *testing.T) {
	types := []any{
		createActionItemRequest{}, orderActionItemRequest{}, actionItemRequest{},
		loginRequest{}, refreshRequest{}, codeRequest{}, nameRequest{},
		calendarYearRequest{}, calendarDay{},
		registerVulnerableRequest{}, emergencyContact{}, raiseCallRequest{}, respondCallRequest{}, escalateOrderRequest{},
		createMeetingRequest{}, updateMeetingRequest{}, inviteRequest{}, cancelMeetingRequest{}, rsvpRequest{},
		signInRequest{}, minutesRequest{}, meetingAgendaItem{}, meetingAttachment{}, meetingGroupInput{},
		pushChannelRequest{},
		orderCategoryPatch{}, submitOrderRequest{}, orderActionRequest{},
		regionRequest{}, regionPatchRequest{}, compoundRequest{}, compoundPatchRequest{}, gridRequest{},
		gridPatchRequest{}, buildingRequest{}, buildingPatchRequest{}, householdRequest{}, householdPatchRequest{},
		firmRequest{}, firmPatchRequest{}, contractRequest{}, contractPatchRequest{}, committeeRequest{},
		committeePatchRequest{}, departmentRequest{}, departmentPatchRequest{},
		applyRequest{}, rejectRequest{}, invitationRequest{},
		createVoteRequest{}, castBallotRequest{},
		postWishRequest{}, wishActionRequest{},
		checklistItemRequest{}, createChecklistRequest{}, checklistVersionRequest{}, raiseRequest{},
		inspectionResultRequest{}, createInspectionRequest{}, answerRequest{}, reportRectificationRequest{},
		answerRectificationRequest{},
		publishDisclosureRequest{}, disclosureLineRequest{}, countersignRequest{},
		createNoticeRequest{}, withdrawNoticeRequest{}, inPersonRequest{},
		exportRequest{},
		draftRankingRequest{}, reasonRequest{}, fileAppealRequest{}, appealNoteRequest{}, decideAppealRequest{},
		talkRequest{}, flagVoteRequest{},
		addFormulaRequest{}, formulaSpecRequest{}, formulaComponentRequest{}, listRuleRequest{}, starBandRequest{}, runScoresRequest{},
	}
	listed := map[string]bool{}
	for _, v := range types {
		listed[reflect.TypeOf(v).Name()] = true
	}
	found := requestTypesInSource(t)
	for _, name := range found {
		if !listed[name] {
			t.Errorf("request type %s is not in this test's list", name)
		}
	}
	for name := range listed {
		if !slices.Contains(found, name) {
			t.Errorf("%s is listed but was not found in the source as a request type", name)
		}
	}
	for _, v := range types {
		rt := reflect.TypeOf(v)
		t.Run(rt.Name(), func(t *testing.T) {
			for i := range rt.NumField() {
				f := rt.Field(i)
				p := reflect.New(rt)
				if !fillString(p.Elem().Field(i), "a\x00b\x1b\n\tc") {
					continue // not text
				}
				err := checkText(p.Interface())
				if f.Tag.Get("text") == "block" {
					if err != nil {
						t.Fatalf("%s: %v", f.Name, err)
					}
					var got []string
					collectStrings(p.Elem().Field(i), &got)
					for _, s := range got {
						if s != "ab\n\tc" {
							t.Fatalf("%s stripped to %q", f.Name, s)
						}
					}
				} else if err == nil {
					t.Fatalf("%s: a control character passed", f.Name)
				}
			}
		})
	}
}

// requestTypesInSource lists the struct types of this package's non-test
// files that are request bodies (…Request, …Patch) or used inside one.
func requestTypesInSource(t *testing.T) []string {
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	structs := map[string]*ast.StructType{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok {
				if st, ok := ts.Type.(*ast.StructType); ok {
					structs[ts.Name.Name] = st
				}
			}
			return true
		})
	}
	req := regexp.MustCompile(`(Request|Patch)$`)
	var out []string
	var add func(name string)
	add = func(name string) {
		st, ok := structs[name]
		if !ok || slices.Contains(out, name) {
			return
		}
		out = append(out, name)
		for _, f := range st.Fields.List {
			ast.Inspect(f.Type, func(n ast.Node) bool {
				if id, ok := n.(*ast.Ident); ok {
					add(id.Name)
				}
				return true
			})
		}
	}
	for name := range structs {
		if req.MatchString(name) {
			add(name)
		}
	}
	return out
}

// fillString sets every string reachable from v to s, making pointers and
// one-element slices on the way; it reports whether it set any.
func fillString(v reflect.Value, s string) bool {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
		return true
	case reflect.Pointer:
		e := reflect.New(v.Type().Elem())
		if fillString(e.Elem(), s) {
			v.Set(e)
			return true
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return false
		}
		e := reflect.MakeSlice(v.Type(), 1, 1)
		if fillString(e.Index(0), s) {
			v.Set(e)
			return true
		}
	case reflect.Struct:
		any := false
		for i := range v.NumField() {
			any = fillString(v.Field(i), s) || any
		}
		return any
	}
	return false
}

func collectStrings(v reflect.Value, out *[]string) {
	switch v.Kind() {
	case reflect.String:
		*out = append(*out, v.String())
	case reflect.Pointer:
		if !v.IsNil() {
			collectStrings(v.Elem(), out)
		}
	case reflect.Slice:
		for i := range v.Len() {
			collectStrings(v.Index(i), out)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			collectStrings(v.Field(i), out)
		}
	}
}
