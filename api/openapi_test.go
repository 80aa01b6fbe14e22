package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	legacyrouter "github.com/getkin/kin-openapi/routers/legacy"
	"gopkg.in/yaml.v3"
)

// Every registered route must be in the OpenAPI document, and the document
// must not describe routes that do not exist.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	s := newTestServer(t)
	raw, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`:([A-Za-z_]+)`)
	registered := map[string]bool{}
	var missing []string
	for _, r := range s.router.Routes() {
		if strings.HasPrefix(r.Path, "/console/") {
			continue // the PC console's pages are HTML, not the API
		}
		path := param.ReplaceAllString(r.Path, "{$1}")
		method := strings.ToLower(r.Method)
		registered[method+" "+path] = true
		if _, ok := doc.Paths[path][method]; !ok {
			missing = append(missing, r.Method+" "+path)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("routes missing from the OpenAPI document:\n  %s", strings.Join(missing, "\n  "))
	}
	var extra []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			if !registered[method+" "+path] {
				extra = append(extra, strings.ToUpper(method)+" "+path)
			}
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("documented routes that do not exist:\n  %s", strings.Join(extra, "\n  "))
	}
}

func TestOpenAPIServed(t *testing.T) {
	s := newTestServer(t)
	r := s.must(200, "GET", "/openapi.yaml", "", nil)
	if !strings.Contains(string(r.Raw), "openapi: 3.0.3") {
		t.Fatalf("served document lacks its header: %.100s", r.Raw)
	}
}

// loadOpenAPI parses the served document with kin-openapi.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	raw, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatalf("OpenAPI document does not load: %v", err)
	}
	return doc
}

// The document is what the mini-program team generates a client from: it
// must pass a maintained OpenAPI 3 validator, examples included.
func TestOpenAPIValid(t *testing.T) {
	doc := loadOpenAPI(t)
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("OpenAPI document is invalid: %v", err)
	}
}

// An unquoted comma in a flow mapping ({description: a, b}) makes "b" a key
// with no value. Validators catch it only where extra keys are forbidden, so
// every fragment is scanned for such keys, naming file and line.
func TestOpenAPIFragmentsHaveNoStrayKeys(t *testing.T) {
	names, err := fs.Glob(openapiFS, "openapi/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var stray []string
	var walk func(name string, n *yaml.Node)
	walk = func(name string, n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if v.Kind == yaml.ScalarNode && v.Tag == "!!null" && v.Value == "" {
					stray = append(stray, fmt.Sprintf("%s:%d: key %q has no value (quote text that holds a comma)", name, k.Line, k.Value))
				}
				walk(name, v)
			}
			return
		}
		for _, c := range n.Content {
			walk(name, c)
		}
	}
	for _, name := range names {
		raw, err := fs.ReadFile(openapiFS, name)
		if err != nil {
			t.Fatal(err)
		}
		var n yaml.Node
		if err := yaml.Unmarshal(raw, &n); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		walk(name, &n)
	}
	if len(stray) > 0 {
		t.Errorf("stray keys in the OpenAPI fragments:\n  %s", strings.Join(stray, "\n  "))
	}
}

// Client generators name methods after operationId and group them by tag:
// each operation needs a unique camelCase id and a declared tag.
func TestOpenAPIOperationsHaveIDsAndTags(t *testing.T) {
	doc := loadOpenAPI(t)
	declared := map[string]bool{}
	for _, tag := range doc.Tags {
		declared[tag.Name] = true
	}
	camel := regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)
	seen := map[string]string{}
	var bad []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			switch {
			case op.OperationID == "":
				bad = append(bad, where+": no operationId")
			case !camel.MatchString(op.OperationID):
				bad = append(bad, fmt.Sprintf("%s: operationId %q is not camelCase", where, op.OperationID))
			case seen[op.OperationID] != "":
				bad = append(bad, fmt.Sprintf("%s: operationId %q already used by %s", where, op.OperationID, seen[op.OperationID]))
			default:
				seen[op.OperationID] = where
			}
			if len(op.Tags) == 0 {
				bad = append(bad, where+": no tags")
			}
			for _, tag := range op.Tags {
				if !declared[tag] {
					bad = append(bad, fmt.Sprintf("%s: tag %q is not declared in the top-level tags", where, tag))
				}
			}
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("operations without a proper id or tags:\n  %s", strings.Join(bad, "\n  "))
	}
}

// contract checks every answer the api tests receive against the document:
// the route must document the status, a body must come in a documented
// content type, and a JSON body must match the schema of that status.
type contract struct {
	doc    *openapi3.T
	router routers.Router
	err    error
}

var (
	contractOnce sync.Once
	theContract  contract
)

func loadContract() (*contract, error) {
	contractOnce.Do(func() {
		raw, err := OpenAPI()
		if err != nil {
			theContract.err = err
			return
		}
		doc, err := openapi3.NewLoader().LoadFromData(raw)
		if err != nil {
			theContract.err = err
			return
		}
		// The document's only server is "/": match any host.
		doc.Servers = nil
		closeResponseSchemas(doc)
		theContract.doc = doc
		theContract.router, theContract.err = legacyrouter.NewRouter(doc)
	})
	return &theContract, theContract.err
}

// closeResponseSchemas makes the response schemas of this in-test copy
// refuse properties they do not list (unless they say otherwise), so a
// field the server sends but the document omits — one a generated client
// would drop — fails the test. Members of an allOf stay open: each sees
// only its own part of the object.
func closeResponseSchemas(doc *openapi3.T) {
	open := map[*openapi3.Schema]bool{}
	seen := map[*openapi3.Schema]bool{}
	var markOpen func(*openapi3.SchemaRef)
	markOpen = func(r *openapi3.SchemaRef) {
		if r == nil || r.Value == nil || open[r.Value] {
			return
		}
		open[r.Value] = true
	}
	var walk func(*openapi3.SchemaRef)
	walk = func(r *openapi3.SchemaRef) {
		if r == nil || r.Value == nil || seen[r.Value] {
			return
		}
		s := r.Value
		seen[s] = true
		for _, m := range s.AllOf {
			markOpen(m)
			walk(m)
		}
		for _, m := range s.OneOf {
			walk(m)
		}
		for _, m := range s.AnyOf {
			walk(m)
		}
		for _, p := range s.Properties {
			walk(p)
		}
		walk(s.Items)
		walk(s.AdditionalProperties.Schema)
	}
	var roots []*openapi3.SchemaRef
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, resp := range op.Responses.Map() {
				if resp.Value == nil {
					continue
				}
				for _, mt := range resp.Value.Content {
					roots = append(roots, mt.Schema)
				}
			}
		}
	}
	for _, r := range roots {
		walk(r)
	}
	for s := range seen {
		if !open[s] && len(s.Properties) > 0 && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil {
			s.AdditionalProperties.Has = openapi3.Ptr(false)
		}
	}
}

// checkContract returns what in the answer breaks the document, or "".
// Requests to paths or methods the document does not describe (the tests
// of 404 and 405 themselves) are not checked: the route test covers them.
func checkContract(req *http.Request, status int, header http.Header, body []byte) string {
	c, err := loadContract()
	if err != nil {
		return "OpenAPI document does not load: " + err.Error()
	}
	if req.Method == http.MethodHead {
		return ""
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return ""
	}
	where := fmt.Sprintf("%s %s (%s) answered %d", req.Method, route.Path, route.Operation.OperationID, status)
	ref := route.Operation.Responses.Status(status)
	if ref == nil {
		ref = route.Operation.Responses.Default()
	}
	if ref == nil || ref.Value == nil {
		if code, ok := anyOperationAnswer(status, body); ok {
			return checkEnvelope(c, where, code, body)
		}
		return fmt.Sprintf("%s: status %d is not documented for this operation; add it to api/openapi/ (body %.200s)", where, status, body)
	}
	ct := header.Get("Content-Type")
	content := ref.Value.Content
	if len(body) == 0 {
		return ""
	}
	if len(content) == 0 {
		return fmt.Sprintf("%s: the document gives this status no content, but the body is %s: %.200s", where, ct, body)
	}
	mt := content.Get(ct)
	if mt == nil {
		return fmt.Sprintf("%s: content type %q is not documented for this status (documented: %s)", where, ct, strings.Join(slices.Sorted(maps.Keys(content)), ", "))
	}
	mime, _, _ := strings.Cut(ct, ";")
	json := strings.TrimSpace(mime) == "application/json"
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Options: &openapi3filter.Options{
			IncludeResponseStatus:   true,
			MultiError:              true,
			ExcludeResponseBody:     !json, // files (xlsx, photos) and text: content type only
			SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.EnableFormatValidation()},
		},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return where + ": " + describeContractError(err) + fmt.Sprintf("\n    body: %.600s", body)
	}
	return ""
}

// anyOperation are the answers the document's description says any
// operation may give, by status and error code: the router's and the
// binding's refusals, written once instead of under every operation.
var anyOperation = map[int][]string{
	http.StatusBadRequest:            {"bad_encoding", "bad_text"},
	http.StatusMethodNotAllowed:      {"method_not_allowed"},
	http.StatusRequestEntityTooLarge: {"body_too_large"},
	http.StatusUnsupportedMediaType:  {"unsupported_media_type"},
	http.StatusServiceUnavailable:    {"redis_unavailable"},
}

// anyOperationAnswer reports whether an undocumented status is one of
// anyOperation's, by the error code of its body.
func anyOperationAnswer(status int, body []byte) (string, bool) {
	var env struct {
		Error struct{ Code string }
	}
	if json.Unmarshal(body, &env) != nil {
		return "", false
	}
	return env.Error.Code, slices.Contains(anyOperation[status], env.Error.Code)
}

// checkEnvelope validates an answer of anyOperation against the error
// envelope's schema.
func checkEnvelope(c *contract, where, code string, body []byte) string {
	ref := c.doc.Components.Schemas["Error"]
	if ref == nil || ref.Value == nil {
		return "the document has no Error schema"
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return where + ": " + code + " is not JSON"
	}
	if err := ref.Value.VisitJSON(v); err != nil {
		return where + ": the " + code + " answer is not the error envelope: " + err.Error()
	}
	return ""
}

// checkAcceptedRequest returns what in a request the server accepted (2xx)
// breaks the document, or "": a documented requirement the server does
// not have (a field marked required that it did without, a type or a
// limit it does not enforce) would make generated clients refuse what the
// server takes. Refused requests are not checked: tests send bad ones on
// purpose.
func checkAcceptedRequest(req *http.Request, body []byte, status int) string {
	if status < 200 || status > 299 {
		return ""
	}
	c, err := loadContract()
	if err != nil {
		return "OpenAPI document does not load: " + err.Error()
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return ""
	}
	r := req.Clone(context.Background())
	r.Body = io.NopCloser(bytes.NewReader(body))
	mime, _, _ := strings.Cut(req.Header.Get("Content-Type"), ";")
	form := strings.TrimSpace(mime) != "application/json"
	if form {
		body = nil // file uploads: not worth printing
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{
			// Multipart parts the server ignores fail kin-openapi's form
			// decoder; uploads are checked for path and query only.
			ExcludeRequestBody:      form,
			MultiError:              true,
			AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.EnableFormatValidation()},
		}}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		return fmt.Sprintf("%s %s (%s) accepted a request the document refuses (answered %d): %s\n    request body: %.600s",
			req.Method, route.Path, route.Operation.OperationID, status, describeContractError(err), body)
	}
	return ""
}

// describeContractError lists each schema violation with the JSON path of
// the field that broke it, so a failure says exactly what to fix.
func describeContractError(err error) string {
	var lines []string
	var walk func(error)
	walk = func(err error) {
		var me openapi3.MultiError
		if errors.As(err, &me) {
			for _, e := range me {
				walk(e)
			}
			return
		}
		var se *openapi3.SchemaError
		if errors.As(err, &se) {
			path := "/" + strings.Join(se.JSONPointer(), "/")
			lines = append(lines, fmt.Sprintf("field %s: %s (value %.80v)", path, se.Reason, se.Value))
			return
		}
		var re *openapi3filter.ResponseError
		if errors.As(err, &re) && re.Err != nil {
			lines = append(lines, re.Reason+":")
			walk(re.Err)
			return
		}
		lines = append(lines, err.Error())
	}
	walk(err)
	return strings.Join(lines, "\n    ")
}

// A generated client types a property as optional unless the schema says
// it is always there: every component schema with properties must list
// the ones the server always sends (or needs).
func TestOpenAPISchemasListRequired(t *testing.T) {
	doc := loadOpenAPI(t)
	var bad []string
	for name, ref := range doc.Components.Schemas {
		s := ref.Value
		if len(s.Properties) > 0 && len(s.Required) == 0 {
			bad = append(bad, name)
		}
		for _, p := range s.Required {
			if _, ok := s.Properties[p]; !ok && len(s.Properties) > 0 {
				bad = append(bad, fmt.Sprintf("%s: required %q is not among its properties", name, p))
			}
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("component schemas without a required list:\n  %s", strings.Join(bad, "\n  "))
	}
}

// The contract check must fail on each kind of drift and say where.
func TestContractCheckNamesWhatBroke(t *testing.T) {
	jsonCT := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	get := func(path string) *http.Request { return httptest.NewRequest("GET", path, nil) }
	cases := []struct {
		name   string
		req    *http.Request
		status int
		header http.Header
		body   string
		want   []string // all must appear in the message; none: must pass
	}{
		{"documented answer passes", get("/healthz"), 200, jsonCT, `{"status":"ok"}`, nil},
		{"undocumented status", get("/healthz"), 418, jsonCT, `{}`, []string{"GET /healthz (getHealth) answered 418", "status 418 is not documented"}},
		{"undocumented content type", get("/healthz"), 200, http.Header{"Content-Type": {"text/html"}}, `<p>ok</p>`, []string{"getHealth", `content type "text/html" is not documented`}},
		{"undocumented field", get("/healthz"), 200, jsonCT, `{"status":"ok","uptime":3}`, []string{"getHealth", "uptime"}},
		{"undocumented field deep in a page", get("/api/v1/orders"), 200, jsonCT, `{"items":[{"bogus":1}],"next_cursor":""}`, []string{"listOrders", "field /items/0", "bogus"}},
		{"wrong field type", get("/healthz"), 200, jsonCT, `{"status":5}`, []string{"getHealth", "field /status"}},
		{"missing required field", get("/api/v1/orders/7"), 200, jsonCT, `{"id":7}`, []string{"GET /api/v1/orders/{id} (getOrder) answered 200", `property "number" is missing`}},
		{"null where not nullable", get("/api/v1/me"), 200, jsonCT, `{"user":{"id":1,"display_name":null,"phone":"","phone_bound":false},"households":[],"applications":[],"grants":[]}`, []string{"getMe", "field /user/display_name"}},
		{"error envelope on an undocumented status", httptest.NewRequest("POST", "/api/v1/orders/7/accept", nil), 502, jsonCT, `{"error":{"code":"x","message":"y"},"request_id":"r"}`, []string{"acceptOrder", "status 502 is not documented"}},
		{"unknown route is left to the route test", get("/nowhere"), 404, jsonCT, `{}`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := checkContract(tc.req, tc.status, tc.header, []byte(tc.body))
			if tc.want == nil {
				if msg != "" {
					t.Fatalf("want no complaint, got: %s", msg)
				}
				return
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q:\n%s", w, msg)
				}
			}
		})
	}
}

// A request the server took must fit the document; a refused one is not
// checked (tests send bad input on purpose).
func TestAcceptedRequestCheckNamesWhatBroke(t *testing.T) {
	login := func(body string) *http.Request {
		r := httptest.NewRequest("POST", "/api/v1/auth/login", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		return r
	}
	t.Run("a fitting request passes", func(t *testing.T) {
		if msg := checkAcceptedRequest(login(`{"code":"x"}`), []byte(`{"code":"x"}`), 200); msg != "" {
			t.Fatal(msg)
		}
	})
	t.Run("a required field the server did without", func(t *testing.T) {
		msg := checkAcceptedRequest(login(`{}`), []byte(`{}`), 200)
		for _, w := range []string{"POST /api/v1/auth/login (login) accepted a request the document refuses", `property "code" is missing`} {
			if !strings.Contains(msg, w) {
				t.Errorf("message lacks %q:\n%s", w, msg)
			}
		}
	})
	t.Run("a refused request is not checked", func(t *testing.T) {
		if msg := checkAcceptedRequest(login(`{}`), []byte(`{}`), 400); msg != "" {
			t.Fatal(msg)
		}
	})
}

// servedAs names the api response types each component schema is served
// from; where several types share one schema (a list row and its single
// view), the schema's properties are their union and its required list
// their intersection.
var servedAs = map[string][]any{
	"Notice":                  {noticeResponse{}},
	"ReceiptBuildingCounts":   {buildingCountsResponse{}},
	"ReceiptTally":            {receiptTallyResponse{}},
	"ReceiptDoor":             {doorResponse{}},
	"ReceiptDetail":           {receiptDetailResponse{}},
	"Error":                   {errorBody{}},
	"AuthUser":                {userResponse{}},
	"AuthTokens":              {tokensResponse{}},
	"AuthMe":                  {meResponse{}},
	"OrgRegion":               {regionResponse{}},
	"OrgCompound":             {compoundResponse{}},
	"OrgGrid":                 {gridResponse{}},
	"OrgBuilding":             {buildingResponse{}},
	"OrgHousehold":            {orgHouseholdResponse{}},
	"OrgFirm":                 {firmResponse{}},
	"OrgContract":             {contractResponse{}},
	"OrgCommittee":            {committeeResponse{}},
	"OrgDepartment":           {departmentResponse{}},
	"OrgImportResult":         {orgImportResponse{}},
	"OrgRegionPage":           {pageOf[regionResponse]{}},
	"PeopleApplication":       {applicationResponse{}, applicationViewResponse{}},
	"PeopleApplicationPage":   {pageOf[applicationViewResponse]{}},
	"PeopleResident":          {residentResponse{}},
	"PeopleInvitation":        {invitationResponse{}},
	"PeopleGrant":             {grantResponse{}, grantViewResponse{}},
	"CalendarDay":             {calendarDay{}},
	"CalendarYear":            {calendarYearResponse{}},
	"PhotoInfo":               {photoResponse{}},
	"OrderCategory":           {orderCategoryResponse{}},
	"OrderOrder":              {orderResponse{}},
	"OrderEvent":              {orderEventResponse{}},
	"OrderHandlerStep":        {orderHandlerResponse{}},
	"OrderPage":               {pageOf[orderResponse]{}},
	"EmergencyContact":        {emergencyContact{}},
	"EmergencyVulnerable":     {vulnerableResponse{}},
	"EmergencyCall":           {callResponse{}},
	"MessagePushChannel":      {pushChannelResponse{}},
	"MessageItem":             {messageResponse{}},
	"MessageSubscriptions":    {subscriptionsResponse{}},
	"MessageSandboxPush":      {sandboxPushResponse{}},
	"MessageOutboxRow":        {outboxResponse{}},
	"MessageContentCheck":     {contentCheckResponse{}},
	"MessageMetrics":          {messageMetricsResponse{}},
	"MeetingAgendaItem":       {meetingAgendaItem{}},
	"MeetingAttachment":       {meetingAttachment{}},
	"Meeting":                 {meetingResponse{}},
	"MeetingParticipant":      {participantResponse{}},
	"MeetingParticipation":    {participationResponse{}},
	"MeetingMinutes":          {minutesResponse{}},
	"ActionItem":              {actionItemResponse{}},
	"ActionItemEvent":         {actionEventResponse{}},
	"VoteView":                {voteResponse{}},
	"VoteHousehold":           {voteHouseholdResponse{}},
	"VoteBallot":              {ballotResponse{}},
	"WishPhoto":               {wishPhotoResponse{}},
	"WishView":                {wishResponse{}},
	"DisclosureAttachment":    {disclosureAttachmentResponse{}},
	"DisclosureLine":          {disclosureLineResponse{}},
	"DisclosureRevenue":       {disclosureRevenueResponse{}},
	"DisclosureCountersign":   {disclosureSignResponse{}},
	"DisclosureView":          {disclosureResponse{}},
	"DisclosurePage":          {pageOf[disclosureResponse]{}},
	"DisclosureBoard":         {disclosureBoardResponse{}},
	"DisclosureFieldChange":   {disclosureFieldChange{}},
	"DisclosureLineChange":    {disclosureLineChange{}},
	"DisclosureDiff":          {disclosureDiffResponse{}},
	"DisclosureReceipts":      {disclosureReceiptsResponse{}},
	"DisclosureReachBuilding": {reachBuildingResponse{}},
	"DisclosureDoor":          {notReachedDoorResponse{}},
	"DisclosureInPerson":      {disclosureInPersonResponse{}},
	"DashboardScope":          {scopeResponse{}},
	"DashboardCategory":       {categoryRef{}},
	"DashboardRate":           {rateResponse{}},
	"DashboardQuantile":       {quantileResponse{}},
	"DashboardDurations":      {durationsResponse{}},
	"DashboardFigures":        {figuresResponse{}},
	"Dashboard":               {dashboardResponse{}},
	"DashboardChild":          {childResponse{}},
	"DashboardPoint":          {pointResponse{}},
	"ExportJob":               {exportJobResponse{}},
	"RankingComponent":        {componentResponse{}},
	"RankingLine":             {rankingLineResponse{}},
	"RankingRule":             {rankingRuleResponse{}},
	"Ranking":                 {rankingResponse{}},
	"AppealEvent":             {appealEventResponse{}},
	"Appeal":                  {appealResponse{}},
	"RankingFlag":             {rankingFlagResponse{}},
	"RankingFlagVote":         {flagVoteResponse{}},
	"ReceiptUnitCounts":       {unitCountsResponse{}},
}

// sharedWithRequests are schemas that are request bodies too: their
// required list is what the server needs, so the types may always send
// more than it lists.
var sharedWithRequests = map[string]bool{"EmergencyContact": true}

// jsonFields lists the JSON fields of a struct type, embedded ones
// flattened: name → (always sent, may be null).
func jsonFields(t reflect.Type, out map[string][2]bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, hasTag := f.Tag.Lookup("json")
		if f.Anonymous && !hasTag {
			jsonFields(f.Type, out)
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		omit := strings.Contains(","+opts+",", ",omitempty,") || strings.Contains(","+opts+",", ",omitzero,")
		null := !omit && f.Type.Kind() == reflect.Pointer
		out[name] = [2]bool{!omit, null}
	}
}

// The response schemas follow the Go types they are served from, including
// routes no api test reaches: a field without omitempty is always sent
// (required), a pointer without omitempty may be null (nullable), and the
// document lists exactly the fields the types have.
func TestOpenAPISchemasFollowResponseTypes(t *testing.T) {
	doc := loadOpenAPI(t)
	names := slices.Sorted(maps.Keys(servedAs))
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			ref := doc.Components.Schemas[name]
			if ref == nil || ref.Value == nil {
				t.Fatalf("no component schema %s", name)
			}
			s := ref.Value
			union := map[string][2]bool{}
			always := map[string]int{}
			for _, v := range servedAs[name] {
				fs := map[string][2]bool{}
				jsonFields(reflect.TypeOf(v), fs)
				for k, f := range fs {
					u := union[k]
					union[k] = [2]bool{u[0] || f[0], u[1] || f[1]}
					if f[0] {
						always[k]++
					}
				}
			}
			var want []string
			for k := range union {
				if always[k] == len(servedAs[name]) {
					want = append(want, k)
				}
				if _, ok := s.Properties[k]; !ok {
					t.Errorf("%s: field %q is sent but not documented", name, k)
				}
			}
			for k := range s.Properties {
				if _, ok := union[k]; !ok {
					t.Errorf("%s: property %q is documented but never sent", name, k)
				}
			}
			sort.Strings(want)
			got := slices.Sorted(slices.Values(s.Required))
			if sharedWithRequests[name] {
				for _, k := range got {
					if always[k] != len(servedAs[name]) {
						t.Errorf("%s: %q is required but not always sent", name, k)
					}
				}
			} else if !slices.Equal(got, want) {
				t.Errorf("%s: required is %v, the types always send %v", name, got, want)
			}
			for k, f := range union {
				p := s.Properties[k]
				if f[1] && p != nil && p.Value != nil && !p.Value.Nullable && len(p.Value.AllOf) == 0 {
					t.Errorf("%s: %q may be sent as null but is not nullable", name, k)
				}
			}
		})
	}
}
