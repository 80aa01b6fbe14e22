package api

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"redprop/model"
	"redprop/service"
	"redprop/service/action"
	"redprop/service/meeting"
	"redprop/service/order"
)

// The console's pages. Each reads and acts through the services with the
// logged-in person as the actor, so each shows and does exactly what the
// person's grants allow.

func (cs *console) pageRoutes(in *gin.RouterGroup) {
	in.GET("/queue", cs.queuePage)
	in.POST("/orders/dispatch", cs.bulkDispatch)
	in.GET("/orders/:id", cs.orderPage)
	in.POST("/orders/:id/act/:action", cs.orderAct)
	in.GET("/photos/:id", cs.photo)
	in.GET("/emergency", cs.emergencyPage)
	in.GET("/emergency/list", cs.emergencyList)
	in.POST("/emergency/:id/:action", cs.emergencyAct)
	in.GET("/meetings", cs.meetingsPage)
	in.GET("/actions/export", cs.actionsExport)
	in.POST("/sandbox/report", cs.sandboxReport)
	in.POST("/sandbox/call", cs.sandboxCall)
	cs.dashRoutes(in)
	cs.evalRoutes(in)
	cs.discloseRoutes(in)
}

var beijing = time.FixedZone("CST", 8*3600)

var (
	actionNames = map[string]string{
		"submit": "提交", "auto_dispatch": "自动派单", "verify": "核实", "reject": "驳回", "merge": "合并重复",
		"resolve": "就地解决", "dispatch": "派单", "accept": "接单", "return": "退单", "assign": "指派",
		"reassign": "改派", "start": "开始处理", "progress": "进展", "pause": "挂起", "resume": "恢复",
		"complete": "办结", "confirm": "验收", "rework": "返工", "rate": "评价", "revisit": "回访",
		"cancel": "撤销", "urge": "督办", "escalate": "升级", "warning": "临期提醒", "overdue": "超时",
		"auto_close": "自动结案", "emergency_call": "一键呼叫", "emergency_ack": "响应呼叫",
		"emergency_arrive": "到场", "emergency_resolve": "解除呼叫",
	}
	lightNames = map[string]string{"green": "正常", "yellow": "临期", "red": "超时"}
	callNames  = map[string]string{model.CallOpen: "待响应", model.CallAcknowledged: "已响应",
		model.CallArrived: "已到场", model.CallResolved: "已解除"}
	callActs     = map[string]string{order.CallAcknowledge: "响应", order.CallArrive: "到场", order.CallResolve: "解除"}
	handlerNames = map[string]string{model.HandlerFirm: "物业", model.HandlerDepartment: "职能部门",
		model.HandlerVolunteer: "志愿者队伍", model.HandlerGrid: "网格"}
	meetingNames = map[string]string{model.MeetingDraft: "草稿", model.MeetingScheduled: "已安排", model.MeetingHeld: "已召开",
		model.MeetingMinuted: "已出纪要", model.MeetingClosed: "已结束", model.MeetingCancelled: "已取消"}
	meetingKinds = map[string]string{model.MeetingJoint: "联席会议", model.MeetingTripartite: "三方议事",
		model.MeetingTalk: "民情恳谈", model.MeetingAssembly: "业主大会", model.MeetingOther: "其他"}
	itemNames = map[string]string{"open": "待认领", "claimed": "已认领", "done": "已完成", "verified": "已验收"}
)

func nameIn(m map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := m[k]; ok {
			return v
		}
		return k
	}
}

var consoleFuncs = template.FuncMap{
	"state":       nameIn(model.StateNames),
	"level":       nameIn(model.LevelNames),
	"act":         nameIn(actionNames),
	"light":       nameIn(lightNames),
	"callState":   nameIn(callNames),
	"callAct":     nameIn(callActs),
	"handler":     nameIn(handlerNames),
	"meeting":     nameIn(meetingNames),
	"item":        nameIn(itemNames),
	"meetingKind": nameIn(meetingKinds),
	"when": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return ""
			}
			return v.In(beijing).Format("01-02 15:04")
		case *time.Time:
			if v == nil {
				return ""
			}
			return v.In(beijing).Format("01-02 15:04")
		}
		return ""
	},
	"has":         func(list []string, s string) bool { return slices.Contains(list, s) },
	"eq64":        func(a, b int64) bool { return a == b },
	"rankName":    nameIn(rankNames),
	"exportKind":  nameIn(exportKinds),
	"exportState": nameIn(exportStates),
	"dashLink":    dashURL,
	"rateLabels": func(rs []rateView) []string {
		out := make([]string, len(rs))
		for i, r := range rs {
			out[i] = r.Label
		}
		return out
	},
}

func (cs *console) id(c *gin.Context, name string) (int64, bool) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		cs.fail(c, errBadID)
		return 0, false
	}
	return id, true
}

// partial reports whether htmx asked for the part of a page with the
// given element id.
func partial(c *gin.Context, target string) bool {
	return c.GetHeader("HX-Request") != "" && c.GetHeader("HX-Target") == target
}

// ---- the dispatch queue

type option struct{ Value, Label string }

type queueFilter struct {
	Queue, State, Category, Level string
	GridID                        int64
	Overdue                       bool
	After                         int64
}

func (f queueFilter) Query(after int64) template.URL {
	v := urlValues{}
	v.set("queue", f.Queue)
	v.set("state", f.State)
	v.set("category", f.Category)
	v.set("level", f.Level)
	if f.GridID != 0 {
		v.set("grid_id", strconv.FormatInt(f.GridID, 10))
	}
	if f.Overdue {
		v.set("overdue", "1")
	}
	if after != 0 {
		v.set("after", strconv.FormatInt(after, 10))
	}
	return template.URL(v.encode())
}

type urlValues []string

func (v *urlValues) set(k, val string) {
	if val != "" {
		*v = append(*v, k+"="+template.URLQueryEscaper(val))
	}
}
func (v urlValues) encode() string { return strings.Join(v, "&") }

type handlerOption struct {
	Value, Label string
}

type bulkResult struct {
	Number string
	OK     bool
	Msg    string
}

type queueData struct {
	Filter     queueFilter
	Queues     []option
	States     []option
	Levels     []option
	Categories []model.Category
	Grids      []model.Grid
	Orders     []order.View
	Next       int64
	Dispatcher bool
	Handlers   []handlerOption
	Results    []bulkResult
}

func (cs *console) queueFilter(c *gin.Context) (queueFilter, bool) {
	a := actor(c)
	f := queueFilter{Queue: c.Query("queue"), State: c.Query("state"), Category: c.Query("category"), Level: c.Query("level"),
		Overdue: c.Query("overdue") != ""}
	if f.Queue == "" {
		f.Queue = order.QueueAll
		if order.Dispatchable(a) {
			f.Queue = order.QueueToDispatch
		}
	}
	for _, k := range []struct {
		name string
		dst  *int64
	}{{"grid_id", &f.GridID}, {"after", &f.After}} {
		if raw := c.Query(k.name); raw != "" {
			n, err := strconv.ParseInt(raw, 10, 64)
			if err != nil || n < 0 {
				cs.fail(c, errBadID)
				return f, false
			}
			*k.dst = n
		}
	}
	return f, true
}

func (cs *console) queueData(c *gin.Context, f queueFilter) (queueData, error) {
	ctx, a := c.Request.Context(), actor(c)
	d := queueData{Filter: f, Dispatcher: order.Dispatchable(a)}
	of := order.Filter{Queue: f.Queue, Category: f.Category, Level: f.Level, GridID: f.GridID}
	if f.State != "" {
		of.States = []string{f.State}
	}
	if f.Overdue {
		t := true
		of.Overdue = &t
	}
	res, err := cs.h.Order.List(ctx, a, of, service.Page{After: f.After, Limit: 30})
	if err != nil {
		return d, err
	}
	d.Orders = res.Items
	if res.More && len(res.Items) > 0 {
		d.Next = res.Items[len(res.Items)-1].ID
	}
	for _, q := range []struct{ v, l string }{{order.QueueToDispatch, "待派单（本级）"}, {order.QueueAll, "全部可见"},
		{order.QueueToVerify, "待核实"}, {order.QueueToConfirm, "待验收"}, {order.QueueFirm, "本单位承办"}} {
		d.Queues = append(d.Queues, option{q.v, q.l})
	}
	for _, st := range order.AllStates {
		d.States = append(d.States, option{st, model.StateNames[st]})
	}
	for _, l := range []string{model.OrderLevelGrid, model.OrderLevelCommunity, model.OrderLevelStreet, model.OrderLevelCity} {
		d.Levels = append(d.Levels, option{l, model.LevelNames[l]})
	}
	if d.Categories, err = cs.h.Order.Categories(ctx, a, false); err != nil {
		return d, err
	}
	d.Grids = cs.grids(c)
	if d.Dispatcher {
		d.Handlers = cs.handlerChoices(c, d.Orders)
	}
	return d, nil
}

// grids are the grids of the regions the person's grants name, as the
// org service lets them read them.
func (cs *console) grids(c *gin.Context) []model.Grid {
	ctx, a := c.Request.Context(), actor(c)
	var out []model.Grid
	seen := map[int64]bool{}
	for _, g := range a.Grants {
		switch g.ScopeKind {
		case model.ScopeCommunity, model.ScopeStreet, model.ScopeDistrict, model.ScopeCity:
		default:
			continue
		}
		res, err := cs.h.Org.Grids(ctx, a, g.ScopeID, service.Page{Limit: 100})
		if err != nil {
			continue
		}
		for _, gr := range res.Items {
			if !seen[gr.ID] {
				seen[gr.ID] = true
				out = append(out, gr)
			}
		}
	}
	return out
}

// handlerChoices are whom the orders shown may be dispatched to: the
// firms under contract for their compounds and the departments of their
// streets, as the org service shows them to the person. The order
// service still decides whether each dispatch is allowed.
func (cs *console) handlerChoices(c *gin.Context, orders []order.View) []handlerOption {
	ctx, a := c.Request.Context(), actor(c)
	var out []handlerOption
	seen := map[string]bool{}
	add := func(kind string, id int64, name string) {
		v := kind + ":" + strconv.FormatInt(id, 10)
		if !seen[v] {
			seen[v] = true
			out = append(out, handlerOption{Value: v, Label: handlerNames[kind] + " · " + name})
		}
	}
	compounds, streets := map[int64]bool{}, map[int64]bool{}
	for _, o := range orders {
		if o.CompoundID != 0 && !compounds[o.CompoundID] && len(compounds) < 20 {
			compounds[o.CompoundID] = true
			if res, err := cs.h.Org.CompoundContracts(ctx, a, o.CompoundID, service.Page{Limit: 20}); err == nil {
				for _, k := range res.Items {
					add(model.HandlerFirm, k.FirmID, k.FirmName)
				}
			}
		}
		if o.StreetID != 0 && !streets[o.StreetID] {
			streets[o.StreetID] = true
			if res, err := cs.h.Org.Departments(ctx, a, o.StreetID, service.Page{Limit: 50}); err == nil {
				for _, dep := range res.Items {
					add(model.HandlerDepartment, dep.ID, dep.Name)
				}
			}
		}
	}
	return out
}

func (cs *console) queuePage(c *gin.Context) {
	f, ok := cs.queueFilter(c)
	if !ok {
		return
	}
	d, err := cs.queueData(c, f)
	if err != nil {
		cs.fail(c, err)
		return
	}
	p := cs.page(c, "派单队列", "queue", d)
	if partial(c, "queue") {
		cs.render(c, http.StatusOK, "queue-body", p)
		return
	}
	cs.render(c, http.StatusOK, "queue", p)
}

var (
	errPickOrders  = service.Invalid("no_orders", "请先勾选要派出的工单")
	errPickHandler = service.Invalid("no_handler", "请选择承办单位")
	errDeadline    = service.Invalid("bad_deadline", "办结时限格式不正确")
)

// parseHandler reads "firm:3".
func parseHandler(raw string) (string, int64, bool) {
	kind, id, ok := strings.Cut(raw, ":")
	n, err := strconv.ParseInt(id, 10, 64)
	if !ok || err != nil || n <= 0 || handlerNames[kind] == "" {
		return "", 0, false
	}
	return kind, n, true
}

// parseLocal reads a datetime-local field as Beijing time ("" is none).
func parseLocal(raw string) (*time.Time, bool) {
	if raw == "" {
		return nil, true
	}
	t, err := time.ParseInLocation("2006-01-02T15:04", raw, beijing)
	if err != nil {
		return nil, false
	}
	return &t, true
}

// bulkDispatch dispatches several orders to one handler: one dispatch
// per order through the order service, each succeeding or refused on its
// own, and says which.
func (cs *console) bulkDispatch(c *gin.Context) {
	ctx, a := c.Request.Context(), actor(c)
	var ids []int64
	for _, raw := range c.PostFormArray("ids") {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n <= 0 {
			cs.fail(c, errBadID)
			return
		}
		ids = append(ids, n)
	}
	if len(ids) == 0 || len(ids) > 100 {
		cs.fail(c, errPickOrders)
		return
	}
	kind, hid, ok := parseHandler(c.PostForm("handler"))
	if !ok {
		cs.fail(c, errPickHandler)
		return
	}
	deadline, ok := parseLocal(c.PostForm("deadline"))
	if !ok {
		cs.fail(c, errDeadline)
		return
	}
	var results []bulkResult
	for _, id := range ids {
		v, err := cs.h.Order.Act(ctx, a, id, order.ActDispatch, order.Input{HandlerKind: kind, HandlerID: hid, Deadline: deadline,
			Note: c.PostForm("note")})
		r := bulkResult{Number: v.Number, OK: err == nil, Msg: "已派出"}
		if r.Number == "" {
			r.Number = "#" + strconv.FormatInt(id, 10)
		}
		if err != nil {
			r.Msg = messageOf(err)
		}
		results = append(results, r)
	}
	f, ok := cs.queueFilter(c)
	if !ok {
		return
	}
	f.Queue, f.State, f.Category, f.Level = c.PostForm("queue"), c.PostForm("state"), c.PostForm("category"), c.PostForm("level")
	f.GridID, _ = strconv.ParseInt(c.PostForm("grid_id"), 10, 64)
	f.Overdue = c.PostForm("overdue") != ""
	if f.Queue == "" {
		f.Queue = order.QueueToDispatch
	}
	d, err := cs.queueData(c, f)
	if err != nil {
		cs.fail(c, err)
		return
	}
	d.Results = results
	cs.render(c, http.StatusOK, "queue-body", cs.page(c, "派单队列", "queue", d))
}

// messageOf is the Chinese message of a service error.
func messageOf(err error) string {
	var se *service.Error
	if errors.As(err, &se) {
		return se.Message
	}
	return errInternal.Message
}

// ---- one order

type orderData struct {
	View     order.View
	Allowed  []string
	Handlers []handlerOption
	Photos   []int64
	Ratings  []int
}

func (cs *console) orderData(c *gin.Context, id int64) (orderData, error) {
	ctx, a := c.Request.Context(), actor(c)
	v, err := cs.h.Order.Get(ctx, a, id)
	if err != nil {
		return orderData{}, err
	}
	d := orderData{View: v, Allowed: cs.h.Order.Allowed(a, v), Ratings: []int{5, 4, 3, 2, 1}}
	if slices.Contains(d.Allowed, order.ActDispatch) {
		d.Handlers = cs.handlerChoices(c, []order.View{v})
	}
	for _, e := range v.Timeline {
		d.Photos = append(d.Photos, e.PhotoIDs...)
	}
	return d, nil
}

func (cs *console) orderPage(c *gin.Context) {
	id, ok := cs.id(c, "id")
	if !ok {
		return
	}
	d, err := cs.orderData(c, id)
	if err != nil {
		cs.fail(c, err)
		return
	}
	cs.render(c, http.StatusOK, "order", cs.page(c, "工单 "+d.View.Number, "queue", d))
}

// orderAct takes one action from the order page's forms: the same
// service call, with the same input, as POST /api/v1/orders/{id}/{action}.
func (cs *console) orderAct(c *gin.Context) {
	id, ok := cs.id(c, "id")
	if !ok {
		return
	}
	ctx, a := c.Request.Context(), actor(c)
	act := c.Param("action")
	in := order.Input{Note: c.PostForm("note"), Reason: c.PostForm("reason"), Comment: c.PostForm("comment"),
		Reopen: c.PostForm("reopen") != ""}
	if raw := c.PostForm("handler"); raw != "" {
		kind, hid, ok := parseHandler(raw)
		if !ok {
			cs.fail(c, errPickHandler)
			return
		}
		in.HandlerKind, in.HandlerID = kind, hid
	}
	if in.Deadline, ok = parseLocal(c.PostForm("deadline")); !ok {
		cs.fail(c, errDeadline)
		return
	}
	for _, k := range []struct {
		name string
		dst  *int64
	}{{"duplicate_of", &in.DuplicateOf}, {"worker_id", &in.WorkerID}} {
		if raw := c.PostForm(k.name); raw != "" {
			n, err := strconv.ParseInt(raw, 10, 64)
			if err != nil {
				cs.fail(c, errBadID)
				return
			}
			*k.dst = n
		}
	}
	if raw := c.PostForm("overall"); raw != "" {
		in.Overall, _ = strconv.Atoi(raw)
	}
	var err error
	if act == order.ActEscalate {
		_, err = cs.h.Order.Escalate(ctx, a, id, in.Reason)
	} else {
		_, err = cs.h.Order.Act(ctx, a, id, act, in)
	}
	if err != nil {
		cs.fail(c, err)
		return
	}
	d, err := cs.orderData(c, id)
	if err != nil {
		// The act may have taken the order out of sight (退单).
		p := cs.page(c, "", "", nil)
		p.Flash = "已" + actionNames[act] + "，该工单已不在您的范围内"
		cs.render(c, http.StatusOK, "order-gone", p)
		return
	}
	p := cs.page(c, "工单 "+d.View.Number, "queue", d)
	p.Flash = "已" + actionNames[act]
	cs.render(c, http.StatusOK, "order-body", p)
}

func (cs *console) photo(c *gin.Context) {
	id, ok := cs.id(c, "id")
	if !ok {
		return
	}
	p, rc, err := cs.h.Order.OpenPhoto(c.Request.Context(), actor(c), id)
	if err != nil {
		cs.fail(c, err)
		return
	}
	defer rc.Close()
	c.Header("Content-Type", p.Mime)
	c.Header("Cache-Control", "private, max-age=3600")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Status(http.StatusOK)
	_, _ = io.Copy(c.Writer, rc)
}

// ---- emergency calls

type callsData struct {
	Calls []order.CallView
	MaxID int64
	Acts  []string
}

func (cs *console) callsData(c *gin.Context) (callsData, error) {
	res, err := cs.h.Order.OpenCalls(c.Request.Context(), actor(c), service.Page{Limit: 50})
	if err != nil {
		return callsData{}, err
	}
	d := callsData{Calls: res.Items, Acts: []string{order.CallAcknowledge, order.CallArrive, order.CallResolve}}
	for _, call := range res.Items {
		d.MaxID = max(d.MaxID, call.ID)
	}
	return d, nil
}

func (cs *console) emergencyPage(c *gin.Context) {
	d, err := cs.callsData(c)
	if err != nil {
		cs.fail(c, err)
		return
	}
	cs.render(c, http.StatusOK, "emergency", cs.page(c, "紧急呼叫", "emergency", d))
}

func (cs *console) emergencyList(c *gin.Context) {
	d, err := cs.callsData(c)
	if err != nil {
		cs.fail(c, err)
		return
	}
	cs.render(c, http.StatusOK, "calls", cs.page(c, "", "", d))
}

func (cs *console) emergencyAct(c *gin.Context) {
	id, ok := cs.id(c, "id")
	if !ok {
		return
	}
	if _, err := cs.h.Order.RespondCall(c.Request.Context(), actor(c), id, c.Param("action"), c.PostForm("note")); err != nil {
		cs.fail(c, err)
		return
	}
	cs.emergencyList(c)
}

// ---- meetings and the ledger

type meetingsData struct {
	Meetings    []meeting.View
	MeetingsErr string
	Items       []action.View
	ItemsErr    string
}

func (cs *console) meetingsPage(c *gin.Context) {
	ctx, a := c.Request.Context(), actor(c)
	var d meetingsData
	ms, err := cs.h.Meeting.List(ctx, a, meeting.Filter{Queue: meeting.QueueScope}, service.Page{Limit: 30})
	if err != nil {
		ms, err = cs.h.Meeting.List(ctx, a, meeting.Filter{Queue: meeting.QueueInvited}, service.Page{Limit: 30})
	}
	if err != nil {
		d.MeetingsErr = messageOf(err)
	}
	d.Meetings = ms.Items
	items, err := cs.h.Action.List(ctx, a, action.Filter{}, service.Page{Limit: 50})
	if err != nil {
		d.ItemsErr = messageOf(err)
	}
	d.Items = items.Items
	cs.render(c, http.StatusOK, "meetings", cs.page(c, "会议与整改台账", "meetings", d))
}

func (cs *console) actionsExport(c *gin.Context) {
	wb, err := cs.h.Action.Export(c.Request.Context(), actor(c), action.Filter{})
	if err != nil {
		cs.fail(c, err)
		return
	}
	defer wb.Close()
	cs.h.sendXLSX(c, wb.Filename, wb.ASCIIName, wb)
}

// ---- the sandbox's residents

func (cs *console) sandboxReport(c *gin.Context) {
	if !cs.opts.Sandbox || cs.opts.DemoActs == nil {
		cs.fail(c, errConsoleSandbox)
		return
	}
	v, err := cs.opts.DemoActs.Report(c.Request.Context())
	if err != nil {
		cs.fail(c, err)
		return
	}
	c.Header("HX-Trigger", "queue-changed")
	p := cs.page(c, "", "", nil)
	p.Flash = fmt.Sprintf("演示居民已报事：%s（%s）", v.Number, v.CategoryName)
	cs.render(c, http.StatusOK, "flash", p)
}

func (cs *console) sandboxCall(c *gin.Context) {
	if !cs.opts.Sandbox || cs.opts.DemoActs == nil {
		cs.fail(c, errConsoleSandbox)
		return
	}
	v, err := cs.opts.DemoActs.Call(c.Request.Context())
	if err != nil {
		cs.fail(c, err)
		return
	}
	p := cs.page(c, "", "", nil)
	p.Flash = fmt.Sprintf("演示关爱对象已一键呼叫：%s", v.OrderNumber)
	cs.render(c, http.StatusOK, "flash", p)
}
