package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/shopspring/decimal"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
	"redprop/service/disclosure"
	"redprop/service/notice"
	"redprop/service/receipt"
)

// The notices (公告) and disclosure boards (三公开) pages: the same
// notice, disclosure and receipt service calls as /api/v1/notices… and
// /api/v1/compounds/{id}/disclosures…, as the person logged in. The
// choices a form offers (publish as, scope, compound) are read from the
// person's grants and the org service; the services still decide every
// act.

func (cs *console) discloseRoutes(in *gin.RouterGroup) {
	in.GET("/notices", cs.noticesPage)
	in.POST("/notices", cs.createNotice)
	in.GET("/notices/:id", cs.noticePage)
	in.POST("/notices/:id/withdraw", cs.withdrawNotice)
	in.GET("/notices/:id/receipts", cs.noticeReceipts)
	in.POST("/notices/:id/in-person/:household_id", cs.noticeInPerson)
	in.GET("/notices/:id/not-reached.xlsx", cs.noticeExport)
	in.GET("/disclosure", cs.boardPage)
	// The form carries the receipts of its lines: a few files, each up to
	// a photo's cap, besides the text of the form.
	cs.h.bodies.handleRefusing(in, http.MethodPost, "/disclosure/:compound_id/publish", cs.publishLimit(), cs.fail, cs.publishDisclosure)
	in.GET("/disclosures/:id", cs.versionPage)
	in.POST("/disclosures/:id/countersign", cs.countersign)
	in.GET("/disclosures/:id/receipts", cs.versionReceipts)
	in.POST("/disclosures/:id/in-person/:household_id", cs.versionInPerson)
	in.GET("/disclosures/:id/not-reached.xlsx", cs.versionExport)
	in.GET("/disclosures/:id/attachments/:photo_id", cs.versionAttachment)
}

// canNotices says whether the person holds a grant that makes the
// notices page useful: one that publishes, oversees, or knocks on the
// doors of notices.
func canNotices(a *service.Actor) bool {
	return a.Has(model.RoleCommunityStaff, model.RoleStreetStaff, model.RoleDistrictStaff, model.RoleCityStaff,
		model.RolePlatformAdmin, model.RoleCommittee, model.RoleFirmManager, model.RolePartyBranch,
		model.RoleGridWorker, model.RoleBuildingSteward)
}

// canDisclosure says whether the person holds a grant that makes the
// disclosure page useful: one that publishes, countersigns, or sees who
// was told of a board.
func canDisclosure(a *service.Actor) bool {
	return a.Has(model.RoleFirmManager, model.RoleCommunityStaff, model.RoleStreetStaff, model.RoleDistrictStaff,
		model.RoleCityStaff, model.RolePlatformAdmin, model.RoleCommittee, model.RoleGridWorker, model.RoleBuildingSteward)
}

var (
	noticeStates = map[string]string{model.NoticeScheduled: "待发布（定时）", model.NoticePublished: "已发布",
		model.NoticeWithdrawn: "已撤回"}
	publisherNames = map[string]string{notice.ByCommunity: "社区", notice.ByStreet: "街道", notice.ByCommittee: "业委会",
		notice.ByFirm: "物业企业", notice.ByPartyBranch: "党支部"}
	scopeKindNames = map[string]string{notice.ScopeStreet: "街道", notice.ScopeCommunity: "社区", notice.ScopeCompound: "小区",
		notice.ScopeBuilding: "楼栋", notice.ScopeBuildings: "多栋楼"}
	pushNames   = map[string]string{"queued": "已推送", "skipped": "未推送", "none": "未注册", "": "—"}
	changeNames = map[string]string{disclosure.ChangeAdded: "新增", disclosure.ChangeRemoved: "删除", disclosure.ChangeChanged: "修改"}
	lineKinds   = map[string]string{model.LineFirm: "企业信息", model.LineService: "服务项目", model.LineFee: "物业费",
		model.LineCharge: "其他收费", model.LineChannel: "投诉渠道", model.LineIncome: "收入", model.LineExpense: "支出"}
	// The role a person publishes a notice as, by the kind of publisher.
	publisherOf = []struct{ role, as string }{{model.RoleCommunityStaff, notice.ByCommunity},
		{model.RoleStreetStaff, notice.ByStreet}, {model.RoleCommittee, notice.ByCommittee},
		{model.RoleFirmManager, notice.ByFirm}, {model.RolePartyBranch, notice.ByPartyBranch}}
	errNoticeForm  = service.Invalid("bad_time", "时间格式不正确")
	errScopeChoice = service.Invalid("bad_scope_ids", "请选择公告范围")
	errVersionGone = service.NotFound("disclosure_not_found", "公示不存在")
)

func init() {
	consoleFuncs["noticeState"] = nameIn(noticeStates)
	consoleFuncs["publisherKind"] = nameIn(publisherNames)
	consoleFuncs["scopeKind"] = nameIn(scopeKindNames)
	consoleFuncs["push"] = nameIn(pushNames)
	consoleFuncs["change"] = nameIn(changeNames)
	consoleFuncs["lineKind"] = nameIn(lineKinds)
	consoleFuncs["section"] = disclosure.SectionName
	consoleFuncs["yuan"] = func(d model.Dec) string { return disclosure.Yuan(d.Decimal) }
	consoleFuncs["amount"] = func(d *model.Dec, section string) string {
		if s := decString(d, section); s != nil {
			return *s
		}
		return ""
	}
	consoleFuncs["inc"] = func(n int) int { return n + 1 }
	consoleFuncs["maxFormFiles"] = func() int { return maxFormFiles }
	consoleFuncs["lineFiles"] = func(prefix string, index int, keep []int64) lineFiles {
		return lineFiles{Prefix: prefix, Index: index, Keep: keep}
	}
	consoleFuncs["dateOnly"] = func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.DateOnly)
	}
}

// ---- receipts, shared by both pages

// receiptsData is who was told of a notice or a version: the counts, by
// building and unit, and one page of the doors not reached.
type receiptsData struct {
	Base     string // the subject's console path, e.g. /console/notices/3
	Tally    receipt.Tally
	Confirm  bool // the subject asks to confirm (notices)
	Doors    []receipt.Door
	Building int64
	Unit     string
	Next     int64
	Err      string
}

// doorFilter reads ?building_id=&unit=&after= as the API does.
func (cs *console) doorFilter(c *gin.Context) (receipt.Filter, int64, bool) {
	var f receipt.Filter
	var after int64
	for _, k := range []struct {
		name string
		dst  *int64
	}{{"building_id", &f.BuildingID}, {"after", &after}} {
		if raw := c.Query(k.name); raw != "" {
			n, err := strconv.ParseInt(raw, 10, 64)
			if err != nil || n < 0 {
				cs.fail(c, errBadID)
				return f, 0, false
			}
			*k.dst = n
		}
	}
	f.Unit = c.Query("unit")
	if len(f.Unit) > 16 {
		cs.fail(c, errUnit)
		return f, 0, false
	}
	return f, after, true
}

// receiptsOf fills d with the counts and a page of doors. On a whole
// page (soft) a person the service refuses them to gets its message in
// their place; a partial asked for answers the refusal.
func receiptsOf(d *receiptsData, f receipt.Filter, after int64, soft bool,
	tally func() (receipt.Tally, error), doors func(receipt.Filter, service.Page) (service.Paged[receipt.Door], error)) error {
	err := func() error {
		t, err := tally()
		if err != nil {
			return err
		}
		d.Tally, d.Building, d.Unit = t, f.BuildingID, f.Unit
		res, err := doors(f, service.Page{After: after, Limit: 50})
		if err != nil {
			return err
		}
		d.Doors = res.Items
		if res.More && len(res.Items) > 0 {
			d.Next = res.Items[len(res.Items)-1].ID
		}
		return nil
	}()
	var se *service.Error
	if soft && errors.As(err, &se) && se.Kind == service.KindForbidden {
		d.Err = se.Message
		return nil
	}
	return err
}

// ---- notices

type noticeScope struct {
	Value, Label string
}

type noticesData struct {
	Notices []notice.Item
	Next    int64
	As      []option
	Scopes  []noticeScope
	// Buildings may be picked together (several buildings of one
	// compound).
	Buildings []noticeScope
	Key       string
}

// noticeChoices are the publisher kinds and scopes the person's grants
// name; the notice service decides whether a pick is allowed.
func (cs *console) noticeChoices(c *gin.Context, d *noticesData) {
	ctx, a := c.Request.Context(), actor(c)
	for _, p := range publisherOf {
		if a.Has(p.role) && !slices.ContainsFunc(d.As, func(o option) bool { return o.Value == p.as }) {
			d.As = append(d.As, option{p.as, publisherNames[p.as]})
		}
	}
	seen := map[string]bool{}
	add := func(list *[]noticeScope, kind string, id int64, label string) {
		v := kind + ":" + strconv.FormatInt(id, 10)
		if !seen[v] {
			seen[v] = true
			*list = append(*list, noticeScope{v, scopeKindNames[kind] + " · " + label})
		}
	}
	var compounds []model.Compound
	for _, g := range a.Scopes(model.RoleCommunityStaff, model.RoleStreetStaff, model.RoleCommittee, model.RolePartyBranch,
		model.RoleDistrictStaff, model.RoleCityStaff) {
		switch g.ScopeKind {
		case model.ScopeStreet, model.ScopeCommunity, model.ScopeDistrict, model.ScopeCity:
			if g.ScopeKind == model.ScopeStreet || g.ScopeKind == model.ScopeCommunity {
				if r, err := cs.h.Org.Region(ctx, a, g.ScopeID); err == nil {
					add(&d.Scopes, g.ScopeKind, r.ID, r.Name)
				}
			}
			if res, err := cs.h.Org.Compounds(ctx, a, g.ScopeID, service.Page{Limit: 50}); err == nil {
				compounds = append(compounds, res.Items...)
			}
		case model.ScopeCompound:
			if cp, err := cs.h.Org.Compound(ctx, a, g.ScopeID); err == nil {
				compounds = append(compounds, cp)
			}
		}
	}
	for _, cp := range compounds {
		add(&d.Scopes, notice.ScopeCompound, cp.ID, cp.Name)
	}
	for _, firm := range cs.firms(a) {
		if res, err := cs.h.Org.FirmContracts(ctx, a, firm, service.Page{Limit: 50}); err == nil {
			for _, k := range res.Items {
				add(&d.Scopes, notice.ScopeCompound, k.CompoundID, k.CompoundName)
			}
		}
	}
	// Buildings only for a few compounds: a street's would fill the page.
	if len(compounds) <= 10 {
		for _, cp := range compounds {
			res, err := cs.h.Org.CompoundBuildings(ctx, a, cp.ID, service.Page{Limit: 50})
			if err != nil {
				continue
			}
			for _, b := range res.Items {
				add(&d.Scopes, notice.ScopeBuilding, b.ID, cp.Name+b.Name)
				d.Buildings = append(d.Buildings, noticeScope{strconv.FormatInt(b.ID, 10), cp.Name + b.Name})
			}
		}
	}
}

func (cs *console) firms(a *service.Actor) []int64 {
	var ids []int64
	for _, g := range a.Scopes(model.RoleFirmManager) {
		if g.ScopeKind == model.ScopeFirm && !slices.Contains(ids, g.ScopeID) {
			ids = append(ids, g.ScopeID)
		}
	}
	return ids
}

func (cs *console) noticesPage(c *gin.Context) {
	ctx, a := c.Request.Context(), actor(c)
	var after int64
	if raw := c.Query("after"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 {
			cs.fail(c, errBadID)
			return
		}
		after = n
	}
	res, err := cs.h.Notice.List(ctx, a, notice.Filter{List: notice.ListStaff}, service.Page{After: after, Limit: 30})
	if err != nil {
		cs.fail(c, err)
		return
	}
	d := noticesData{Notices: res.Items, Key: randomHex(16)}
	if res.More && len(res.Items) > 0 {
		d.Next = res.Items[len(res.Items)-1].Cursor()
	}
	cs.noticeChoices(c, &d)
	cs.render(c, http.StatusOK, "notices", cs.page(c, "公告", "notices", d))
}

// createNotice is POST /api/v1/notices from the page's form: published
// at once, or at the time picked.
func (cs *console) createNotice(c *gin.Context) {
	req := createNoticeRequest{As: c.PostForm("as"), Title: c.PostForm("title"), Body: c.PostForm("body"),
		Push: c.PostForm("push") != "", NeedsConfirm: c.PostForm("needs_confirm") != ""}
	if err := checkText(&req); err != nil {
		cs.fail(c, err)
		return
	}
	if picked := c.PostFormArray("buildings"); len(picked) > 0 {
		req.ScopeKind = notice.ScopeBuildings
		for _, raw := range picked {
			n, err := strconv.ParseInt(raw, 10, 64)
			if err != nil || n <= 0 {
				cs.fail(c, errBadID)
				return
			}
			req.ScopeIDs = append(req.ScopeIDs, n)
		}
	} else {
		kind, raw, ok := strings.Cut(c.PostForm("scope"), ":")
		n, err := strconv.ParseInt(raw, 10, 64)
		if !ok || err != nil || n <= 0 {
			cs.fail(c, errScopeChoice)
			return
		}
		req.ScopeKind, req.ScopeIDs = kind, []int64{n}
	}
	publishAt, ok := parseLocal(c.PostForm("publish_at"))
	if !ok {
		cs.fail(c, errNoticeForm)
		return
	}
	expiresAt, ok := parseLocal(c.PostForm("expires_at"))
	if !ok {
		cs.fail(c, errNoticeForm)
		return
	}
	v, _, err := cs.h.Notice.Create(c.Request.Context(), actor(c), notice.CreateInput{
		As: req.As, ScopeKind: req.ScopeKind, ScopeIDs: req.ScopeIDs, Title: req.Title, Body: req.Body,
		Push: req.Push, NeedsConfirm: req.NeedsConfirm, PublishAt: publishAt, ExpiresAt: expiresAt,
		IdemKey: c.PostForm("key"),
	})
	if err != nil {
		cs.fail(c, err)
		return
	}
	c.Header("HX-Redirect", "/console/notices/"+strconv.FormatInt(v.ID, 10))
	c.Status(http.StatusNoContent)
}

type noticeData struct {
	View     notice.View
	Receipts receiptsData
}

func (cs *console) noticeData(c *gin.Context, id int64, f receipt.Filter, after int64, soft bool) (noticeData, error) {
	ctx, a := c.Request.Context(), actor(c)
	v, err := cs.h.Notice.Get(ctx, a, id)
	if err != nil {
		return noticeData{}, err
	}
	d := noticeData{View: v, Receipts: receiptsData{Base: "/console/notices/" + strconv.FormatInt(id, 10), Confirm: v.NeedsConfirm}}
	if !v.Staff && soft {
		return d, nil
	}
	err = receiptsOf(&d.Receipts, f, after, soft, func() (receipt.Tally, error) { return cs.h.Notice.Tally(ctx, a, id) },
		func(f receipt.Filter, p service.Page) (service.Paged[receipt.Door], error) {
			return cs.h.Notice.NotReached(ctx, a, id, f, p)
		})
	return d, err
}

func (cs *console) noticePage(c *gin.Context) {
	id, ok := cs.id(c, "id")
	if !ok {
		return
	}
	d, err := cs.noticeData(c, id, receipt.Filter{}, 0, true)
	if err != nil {
		cs.fail(c, err)
		return
	}
	cs.render(c, http.StatusOK, "notice", cs.page(c, "公告 · "+d.View.Title, "notices", d))
}

func (cs *console) withdrawNotice(c *gin.Context) {
	id, ok := cs.id(c, "id")
	if !ok {
		return
	}
	req := withdrawNoticeRequest{Reason: c.PostForm("reason")}
	if err := checkText(&req); err != nil {
		cs.fail(c, err)
		return
	}
	if _, err := cs.h.Notice.Withdraw(c.Request.Context(), actor(c), id, req.Reason); err != nil {
		cs.fail(c, err)
		return
	}
	d, err := cs.noticeData(c, id, receipt.Filter{}, 0, true)
	if err != nil {
		cs.fail(c, err)
		return
	}
	p := cs.page(c, "", "notices", d)
	p.Flash = "公告已撤回"
	cs.render(c, http.StatusOK, "notice-body", p)
}

func (cs *console) noticeReceipts(c *gin.Context) {
	id, ok := cs.id(c, "id")
	if !ok {
		return
	}
	f, after, ok := cs.doorFilter(c)
	if !ok {
		return
	}
	d, err := cs.noticeData(c, id, f, after, false)
	if err != nil {
		cs.fail(c, err)
		return
	}
	cs.render(c, http.StatusOK, "receipts", cs.page(c, "", "", d.Receipts))
}

// inPerson reads the door's id and the note of a "told in person".
func (cs *console) inPerson(c *gin.Context) (int64, int64, inPersonRequest, bool) {
	id, ok := cs.id(c, "id")
	if !ok {
		return 0, 0, inPersonRequest{}, false
	}
	hid, ok := cs.id(c, "household_id")
	if !ok {
		return 0, 0, inPersonRequest{}, false
	}
	req := inPersonRequest{Note: c.PostForm("note")}
	if err := checkText(&req); err != nil {
		cs.fail(c, err)
		return 0, 0, req, false
	}
	return id, hid, req, true
}

func (cs *console) noticeInPerson(c *gin.Context) {
	id, hid, req, ok := cs.inPerson(c)
	if !ok {
		return
	}
	dd, err := cs.h.Notice.TellInPerson(c.Request.Context(), actor(c), id, receipt.InPerson{HouseholdID: hid, Note: req.Note})
	if err != nil {
		cs.fail(c, err)
		return
	}
	d, err := cs.noticeData(c, id, receipt.Filter{}, 0, false)
	if err != nil {
		cs.fail(c, err)
		return
	}
	p := cs.page(c, "", "", d.Receipts)
	p.Flash = "已登记当面告知：" + dd.BuildingName + " " + dd.Unit + "单元 " + dd.Room
	cs.render(c, http.StatusOK, "receipts", p)
}

func (cs *console) noticeExport(c *gin.Context) {
	id, ok := cs.id(c, "id")
	if !ok {
		return
	}
	f, _, ok := cs.doorFilter(c)
	if !ok {
		return
	}
	wb, n, err := cs.h.Notice.ExportNotReached(c.Request.Context(), actor(c), id, f)
	if err != nil {
		cs.fail(c, err)
		return
	}
	defer wb.Close()
	day := n.PublishAt.In(calendar.Beijing).Format("20060102")
	sid := strconv.FormatInt(n.ID, 10)
	cs.h.sendXLSX(c, "未触达住户_公告"+sid+"_"+day+".xlsx", "not-reached-notice-"+sid+"-"+day+".xlsx", wb)
}

func (cs *console) versionAttachment(c *gin.Context) {
	id, ok := cs.id(c, "id")
	if !ok {
		return
	}
	pid, ok := cs.id(c, "photo_id")
	if !ok {
		return
	}
	p, rc, err := cs.h.Disclosure.Attachment(c.Request.Context(), actor(c), id, pid)
	if err != nil {
		cs.fail(c, err)
		return
	}
	servePhoto(c, p, rc, nil)
}

// ---- disclosure boards

type compoundChoice struct {
	ID   int64
	Name string
}

type boardData struct {
	Compounds []compoundChoice
	Compound  int64
	Board     disclosure.Board
	Forms     []discForm
}

// compoundsOf are the compounds the person's grants reach, as the org
// service lists them: those under their region or compound, those their
// firm serves, those of their grid's or building's houses.
func (cs *console) compoundsOf(ctx context.Context, a *service.Actor) []compoundChoice {
	var out []compoundChoice
	add := func(id int64, name string) {
		if !slices.ContainsFunc(out, func(c compoundChoice) bool { return c.ID == id }) {
			out = append(out, compoundChoice{id, name})
		}
	}
	for _, g := range a.Grants {
		switch g.ScopeKind {
		case model.ScopeCommunity, model.ScopeStreet, model.ScopeDistrict, model.ScopeCity:
			if res, err := cs.h.Org.Compounds(ctx, a, g.ScopeID, service.Page{Limit: 100}); err == nil {
				for _, cp := range res.Items {
					add(cp.ID, cp.Name)
				}
			}
		case model.ScopeCompound:
			if cp, err := cs.h.Org.Compound(ctx, a, g.ScopeID); err == nil {
				add(cp.ID, cp.Name)
			}
		case model.ScopeGrid, model.ScopeBuilding:
			var bs []model.Building
			if g.ScopeKind == model.ScopeGrid {
				if res, err := cs.h.Org.GridBuildings(ctx, a, g.ScopeID, service.Page{Limit: 100}); err == nil {
					bs = res.Items
				}
			} else if b, err := cs.h.Org.Building(ctx, a, g.ScopeID); err == nil {
				bs = []model.Building{b}
			}
			for _, b := range bs {
				if b.CompoundID == 0 || slices.ContainsFunc(out, func(c compoundChoice) bool { return c.ID == b.CompoundID }) {
					continue
				}
				// Their grant does not cover the compound itself: its name
				// comes with its board's versions.
				name := "小区（" + b.Name + "所在）"
				if res, err := cs.h.Disclosure.List(ctx, a, b.CompoundID, disclosure.ListFilter{}, service.Page{Limit: 1}); err == nil && len(res.Items) > 0 {
					name = res.Items[0].CompoundName
				}
				add(b.CompoundID, name)
			}
		case model.ScopeFirm:
			if g.Role != model.RoleFirmManager && g.Role != model.RoleFirmWorker {
				continue
			}
			if res, err := cs.h.Org.FirmContracts(ctx, a, g.ScopeID, service.Page{Limit: 100}); err == nil {
				for _, k := range res.Items {
					add(k.CompoundID, k.CompoundName)
				}
			}
		}
	}
	slices.SortFunc(out, func(x, y compoundChoice) int { return int(x.ID - y.ID) })
	return out
}

func (cs *console) boardPage(c *gin.Context) {
	ctx, a := c.Request.Context(), actor(c)
	d := boardData{Compounds: cs.compoundsOf(ctx, a)}
	if raw := c.Query("compound_id"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n <= 0 {
			cs.fail(c, errBadID)
			return
		}
		d.Compound = n
	} else if len(d.Compounds) > 0 {
		d.Compound = d.Compounds[0].ID
	}
	if d.Compound != 0 {
		b, err := cs.h.Disclosure.Board(ctx, a, d.Compound)
		if err != nil {
			cs.fail(c, err)
			return
		}
		d.Board = b
		if !slices.ContainsFunc(d.Compounds, func(x compoundChoice) bool { return x.ID == b.Compound.ID }) {
			d.Compounds = append(d.Compounds, compoundChoice{b.Compound.ID, b.Compound.Name})
		}
		for _, sec := range b.Missing {
			d.Forms = append(d.Forms, newDiscForm(b.Compound.ID, sec, nil))
		}
		// A new period of revenue is a new chain, always open.
		if !slices.Contains(b.Missing, model.DisclosureRevenue) {
			d.Forms = append(d.Forms, newDiscForm(b.Compound.ID, model.DisclosureRevenue, nil))
		}
	}
	cs.render(c, http.StatusOK, "disclosure", cs.page(c, "三公开", "disclosure", d))
}

// formLine is one row of a form's table of lines; Attachments are those
// of the line a correction starts from, kept unless unticked.
type formLine struct {
	Label, Amount, Unit, Basis, EffectiveOn, Detail string
	Attachments                                     []int64
}

// lineFiles is the receipts cell of one row of a form's table.
type lineFiles struct {
	Prefix string
	Index  int
	Keep   []int64
}

// discForm is the form of a new version of one section: blank, or
// filled from the version it corrects.
type discForm struct {
	CompoundID     int64
	Section        string
	CorrectsID     int64
	CorrectsV      int
	Period         string
	Note           string
	ServiceLevel   string
	Opening        string
	IncomeTotal    string
	ExpenseTotal   string
	Closing        string
	Items, Fees    []formLine
	Charges        []formLine
	Income         []formLine
	Expenses       []formLine
	Key            string
	CommunityPhone string
	StreetPhone    string
}

// blankRows is how many empty rows a table of lines offers.
const blankRows = 3

func newDiscForm(compoundID int64, section string, from *disclosure.View) discForm {
	f := discForm{CompoundID: compoundID, Section: section, Key: randomHex(16)}
	if from != nil {
		f.CorrectsID, f.CorrectsV, f.Period, f.Note, f.ServiceLevel = from.ID, from.Version, from.Period, from.Note, from.ServiceLevel
		if section == model.DisclosureRevenue {
			f.Opening, f.IncomeTotal = disclosure.Yuan(from.Opening.Decimal), disclosure.Yuan(from.IncomeTotal.Decimal)
			f.ExpenseTotal, f.Closing = disclosure.Yuan(from.ExpenseTotal.Decimal), disclosure.Yuan(from.Closing.Decimal)
		}
		for _, l := range from.Lines {
			row := formLine{Label: l.Label, Unit: l.Unit, Basis: l.Basis, Detail: l.Detail, Attachments: l.Attachments}
			if s := decString(l.Amount, section); s != nil {
				row.Amount = *s
			}
			if l.EffectiveOn != nil {
				row.EffectiveOn = l.EffectiveOn.UTC().Format(time.DateOnly)
			}
			switch l.Kind {
			case model.LineService:
				f.Items = append(f.Items, row)
			case model.LineFee:
				f.Fees = append(f.Fees, row)
			case model.LineCharge:
				f.Charges = append(f.Charges, row)
			case model.LineIncome:
				f.Income = append(f.Income, row)
			case model.LineExpense:
				f.Expenses = append(f.Expenses, row)
			}
		}
	}
	for _, rows := range []*[]formLine{&f.Items, &f.Fees, &f.Charges, &f.Income, &f.Expenses} {
		for range blankRows {
			*rows = append(*rows, formLine{})
		}
	}
	return f
}

// Receipts (票据) of a revenue report's lines come with its form, as a
// multipart body: photos and PDFs, stored by the same service calls as
// POST /api/v1/photos and /api/v1/documents, then named in the lines'
// attachments as an API client names their ids.
const (
	// maxFormFiles is how many files one publish may carry; the route's
	// body limit follows from it.
	maxFormFiles = 9
	// formMemory is how much of a multipart form is held in memory; the
	// rest of its files wait in temporary files.
	formMemory = 8 << 20
)

var (
	errFormFiles = service.Invalid("too_many_files", fmt.Sprintf("每次发布最多附 %d 个文件，其余票据请在更正时补充", maxFormFiles))
	errFileType  = service.Unsupported("unsupported_attachment", "附件仅支持照片（JPEG、PNG、WebP）或 PDF 文件")
	errFileField = service.Invalid("bad_attachment_field", "只有收入、支出项目可以附加票据，请刷新页面后重新填写")
	errFileForm  = service.Invalid("bad_multipart", "表单内容不完整，请刷新页面后重新提交")
	errKeepID    = service.Invalid("bad_attachment_ids", "附件编号不正确，请刷新页面后重新填写")
)

// publishLimit is the publish form's body limit: its files at the photo
// cap each, and the text of the form within the default limit.
func (cs *console) publishLimit() int64 {
	if cs.h.Photo == nil {
		return cs.h.MaxBodyBytes
	}
	return maxFormFiles*cs.h.Photo.MaxBytes() + cs.h.MaxBodyBytes
}

// pubForm reads the tables of a publish form and the files of its lines.
type pubForm struct {
	c     *gin.Context
	files map[string][]*multipart.FileHeader // by field; nil unless multipart
	taken int                                // fields of files some line took
}

// readPubForm parses a multipart form (its fields are then read through
// PostForm as an urlencoded one's) and counts its files.
func readPubForm(c *gin.Context) (*pubForm, error) {
	f := &pubForm{c: c}
	if c.ContentType() != "multipart/form-data" {
		return f, nil
	}
	if err := c.Request.ParseMultipartForm(formMemory); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return f, errBodyTooBig
		}
		return f, errFileForm.Wrap(err)
	}
	f.files = c.Request.MultipartForm.File
	n := 0
	for _, fhs := range f.files {
		n += len(fhs)
	}
	if n > maxFormFiles {
		return f, errFormFiles
	}
	return f, nil
}

// lines reads a table of the form: rows named prefix_label,
// prefix_amount … in order; a row left empty is no line. With attach,
// row i (counting every row the page drew, empty ones too) may keep
// attachments by id in prefix_keep_i and add files in prefix_file_i;
// files gives each line's files.
func (f *pubForm) lines(prefix string, attach bool) (out []disclosureLineRequest, files [][]*multipart.FileHeader, err error) {
	col := func(name string) []string { return f.c.PostFormArray(prefix + "_" + name) }
	labels, amounts, units, bases, dates, details := col("label"), col("amount"), col("unit"), col("basis"), col("effective_on"), col("detail")
	at := func(list []string, i int) string {
		if i < len(list) {
			return list[i]
		}
		return ""
	}
	for i := range max(len(labels), len(amounts)) {
		r := disclosureLineRequest{Label: at(labels, i), Amount: strings.TrimSpace(at(amounts, i)), Unit: at(units, i),
			Basis: at(bases, i), EffectiveOn: at(dates, i), Detail: at(details, i)}
		var fhs []*multipart.FileHeader
		if attach {
			if r.AttachmentIDs, err = keptIDs(col("keep_" + strconv.Itoa(i))); err != nil {
				return nil, nil, err
			}
			if fhs = f.files[prefix+"_file_"+strconv.Itoa(i)]; fhs != nil {
				f.taken++
			}
		}
		// A row with nothing but files is a line without a name: the
		// service says so, rather than the files going nowhere.
		if strings.TrimSpace(r.Label+r.Amount+r.Unit+r.Basis+r.EffectiveOn+r.Detail) == "" && len(fhs) == 0 {
			continue
		}
		out = append(out, r)
		files = append(files, fhs)
	}
	return out, files, nil
}

func keptIDs(raw []string) ([]int64, error) {
	var ids []int64
	for _, s := range raw {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return nil, errKeepID
		}
		ids = append(ids, n)
	}
	return ids, nil
}

// attachmentKind says which upload takes a file: by its name's
// extension, else its declared type, else its first bytes; "" is
// neither a photo nor a PDF.
func attachmentKind(name, declared string, data []byte) string {
	switch strings.ToLower(path.Ext(strings.ReplaceAll(name, `\`, "/"))) {
	case ".pdf":
		return "pdf"
	case ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp":
		return "photo"
	case "":
	default:
		return ""
	}
	mt, _, _ := mime.ParseMediaType(declared)
	if mt == "application/pdf" || (!strings.HasPrefix(mt, "image/") && bytes.HasPrefix(data, []byte("%PDF-"))) {
		return "pdf"
	}
	return "photo"
}

// upload stores one file of the form as the API would, read one byte
// over the cap so that the service tells an oversized one apart. A
// refusal names the file: the form may carry several.
func (cs *console) upload(c *gin.Context, fh *multipart.FileHeader) (int64, error) {
	file, err := fh.Open()
	if err != nil {
		return 0, errFileForm.Wrap(err)
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, cs.h.Photo.MaxBytes()+1))
	if err != nil {
		return 0, errFileForm.Wrap(err)
	}
	ct := fh.Header.Get("Content-Type")
	var p model.Photo
	switch attachmentKind(fh.Filename, ct, data) {
	case "pdf":
		p, err = cs.h.Photo.UploadPDF(c.Request.Context(), actor(c), fh.Filename, ct, data)
	case "photo":
		p, err = cs.h.Photo.Upload(c.Request.Context(), actor(c), fh.Filename, ct, data)
	default:
		err = errFileType
	}
	var se *service.Error
	if errors.As(err, &se) {
		named := *se
		named.Message = "「" + fh.Filename + "」" + se.Message
		return 0, &named
	}
	return p.ID, err
}

// publishDisclosure is POST /api/v1/compounds/{id}/disclosures from a
// section's form. Its files are stored once the form's own checks pass,
// just before the version is published.
func (cs *console) publishDisclosure(c *gin.Context) {
	id, ok := cs.id(c, "compound_id")
	if !ok {
		return
	}
	form, err := readPubForm(c)
	if err != nil {
		cs.fail(c, err)
		return
	}
	req := publishDisclosureRequest{Section: c.PostForm("section"), Reason: c.PostForm("reason"), Note: c.PostForm("note"),
		ServiceLevel: c.PostForm("service_level"), CommunityPhone: c.PostForm("community_phone"),
		StreetPhone: c.PostForm("street_phone"), Period: c.PostForm("period"), Opening: c.PostForm("opening"),
		IncomeTotal: c.PostForm("income_total"), ExpenseTotal: c.PostForm("expense_total"), Closing: c.PostForm("closing")}
	// Only revenue lines keep attachments: the service drops those of
	// the other sections.
	var incomeFiles, expenseFiles [][]*multipart.FileHeader
	for _, t := range []struct {
		prefix string
		dst    *[]disclosureLineRequest
		files  *[][]*multipart.FileHeader
	}{{"item", &req.Items, nil}, {"fee", &req.Fees, nil}, {"charge", &req.Charges, nil},
		{"income", &req.Income, &incomeFiles}, {"expense", &req.Expenses, &expenseFiles}} {
		var files [][]*multipart.FileHeader
		if *t.dst, files, err = form.lines(t.prefix, t.files != nil); err != nil {
			cs.fail(c, err)
			return
		}
		if t.files != nil {
			*t.files = files
		}
	}
	if form.taken != len(form.files) {
		cs.fail(c, errFileField)
		return
	}
	if raw := c.PostForm("corrects_id"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 {
			cs.fail(c, errBadID)
			return
		}
		req.CorrectsID = n
	}
	if err := checkText(&req); err != nil {
		cs.fail(c, err)
		return
	}
	in := disclosure.PublishInput{CompoundID: id, Section: req.Section, Corrects: req.CorrectsID, Reason: req.Reason,
		Note: req.Note, ServiceLevel: req.ServiceLevel, CommunityPhone: req.CommunityPhone, StreetPhone: req.StreetPhone,
		Period: req.Period, Opening: strings.TrimSpace(req.Opening), IncomeTotal: strings.TrimSpace(req.IncomeTotal),
		ExpenseTotal: strings.TrimSpace(req.ExpenseTotal), Closing: strings.TrimSpace(req.Closing), IdemKey: c.PostForm("key")}
	for _, g := range []struct {
		dst *[]disclosure.LineInput
		src []disclosureLineRequest
	}{{&in.Items, req.Items}, {&in.Fees, req.Fees}, {&in.Charges, req.Charges}, {&in.Income, req.Income}, {&in.Expenses, req.Expenses}} {
		if *g.dst, err = disclosureLines(g.src); err != nil {
			cs.fail(c, err)
			return
		}
	}
	for _, g := range []struct {
		lines []disclosure.LineInput
		files [][]*multipart.FileHeader
	}{{in.Income, incomeFiles}, {in.Expenses, expenseFiles}} {
		for i, fhs := range g.files {
			for _, fh := range fhs {
				pid, err := cs.upload(c, fh)
				if err != nil {
					cs.fail(c, err)
					return
				}
				g.lines[i].Attachments = append(g.lines[i].Attachments, pid)
			}
		}
	}
	v, _, err := cs.h.Disclosure.Publish(c.Request.Context(), actor(c), in)
	if err != nil {
		cs.fail(c, err)
		return
	}
	c.Header("HX-Redirect", "/console/disclosures/"+strconv.FormatInt(v.ID, 10))
	c.Status(http.StatusNoContent)
}

type diffView struct {
	disclosure.Diff
	Err string
}

type versionData struct {
	View     disclosure.View
	Versions []disclosure.View
	Diff     *diffView
	Form     *discForm
	Receipts receiptsData
}

// AmountText writes an amount of the diff as the board does: yuan to the
// fen, or a fee standard's rate.
func (d versionData) AmountText(x *decimal.Decimal) string {
	if x == nil {
		return ""
	}
	if d.View.Section == model.DisclosureFees {
		return disclosure.Rate(*x)
	}
	return disclosure.Yuan(*x)
}

// DeltaText is AmountText with its sign.
func (d versionData) DeltaText(x *decimal.Decimal) string {
	s := d.AmountText(x)
	if x != nil && x.IsPositive() {
		s = "+" + s
	}
	return s
}

func (cs *console) versionData(c *gin.Context, id int64, from int64, f receipt.Filter, after int64, soft bool) (versionData, error) {
	ctx, a := c.Request.Context(), actor(c)
	vs, err := cs.h.Disclosure.Versions(ctx, a, id)
	if err != nil {
		return versionData{}, err
	}
	d := versionData{Versions: vs, Receipts: receiptsData{Base: "/console/disclosures/" + strconv.FormatInt(id, 10)}}
	for _, v := range vs {
		if v.ID == id {
			d.View = v
		}
	}
	if d.View.ID == 0 {
		return d, errVersionGone
	}
	if from != 0 || d.View.SupersedesID != 0 {
		diff, err := cs.h.Disclosure.Diff(ctx, a, id, from)
		d.Diff = &diffView{Diff: diff}
		if err != nil {
			d.Diff.Err = messageOf(err)
		}
	}
	if d.View.Current {
		form := newDiscForm(d.View.CompoundID, d.View.Section, &d.View)
		d.Form = &form
	}
	err = receiptsOf(&d.Receipts, f, after, soft, func() (receipt.Tally, error) { return cs.h.Disclosure.Reach(ctx, a, id) },
		func(f receipt.Filter, p service.Page) (service.Paged[receipt.Door], error) {
			return cs.h.Disclosure.NotReached(ctx, a, id, f.BuildingID, f.Unit, p)
		})
	return d, err
}

func (cs *console) versionPage(c *gin.Context) {
	id, ok := cs.id(c, "id")
	if !ok {
		return
	}
	var from int64
	if raw := c.Query("from"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n <= 0 {
			cs.fail(c, errBadID)
			return
		}
		from = n
	}
	d, err := cs.versionData(c, id, from, receipt.Filter{}, 0, true)
	if err != nil {
		cs.fail(c, err)
		return
	}
	cs.render(c, http.StatusOK, "version", cs.page(c, "三公开 · "+d.View.Title(), "disclosure", d))
}

func (cs *console) countersign(c *gin.Context) {
	id, ok := cs.id(c, "id")
	if !ok {
		return
	}
	req := countersignRequest{Note: c.PostForm("note")}
	if err := checkText(&req); err != nil {
		cs.fail(c, err)
		return
	}
	if _, err := cs.h.Disclosure.Countersign(c.Request.Context(), actor(c), id, req.Note); err != nil {
		cs.fail(c, err)
		return
	}
	d, err := cs.versionData(c, id, 0, receipt.Filter{}, 0, true)
	if err != nil {
		cs.fail(c, err)
		return
	}
	p := cs.page(c, "", "disclosure", d)
	p.Flash = "已会签"
	cs.render(c, http.StatusOK, "version-body", p)
}

func (cs *console) versionReceipts(c *gin.Context) {
	id, ok := cs.id(c, "id")
	if !ok {
		return
	}
	f, after, ok := cs.doorFilter(c)
	if !ok {
		return
	}
	d, err := cs.versionData(c, id, 0, f, after, false)
	if err != nil {
		cs.fail(c, err)
		return
	}
	cs.render(c, http.StatusOK, "receipts", cs.page(c, "", "", d.Receipts))
}

func (cs *console) versionInPerson(c *gin.Context) {
	id, hid, req, ok := cs.inPerson(c)
	if !ok {
		return
	}
	r, err := cs.h.Disclosure.TellInPerson(c.Request.Context(), actor(c), id, hid, req.Note, time.Time{})
	if err != nil {
		cs.fail(c, err)
		return
	}
	d, err := cs.versionData(c, id, 0, receipt.Filter{}, 0, false)
	if err != nil {
		cs.fail(c, err)
		return
	}
	p := cs.page(c, "", "", d.Receipts)
	p.Flash = "已登记当面告知：" + r.Unit + "单元 " + r.Room
	cs.render(c, http.StatusOK, "receipts", p)
}

func (cs *console) versionExport(c *gin.Context) {
	id, ok := cs.id(c, "id")
	if !ok {
		return
	}
	f, _, ok := cs.doorFilter(c)
	if !ok {
		return
	}
	wb, v, err := cs.h.Disclosure.ExportNotReached(c.Request.Context(), actor(c), id, f.BuildingID, f.Unit)
	if err != nil {
		cs.fail(c, err)
		return
	}
	defer wb.Close()
	day := v.PublishedAt.In(calendar.Beijing).Format("20060102")
	sid := strconv.FormatInt(v.ID, 10)
	cs.h.sendXLSX(c, "未触达住户_公示"+sid+"_"+day+".xlsx", "not-reached-disclosure-"+sid+"-"+day+".xlsx", wb)
}
