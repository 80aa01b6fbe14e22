package disclosure

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service"
	"redprop/service/servicetest"
)

func newCity(t *testing.T) (*servicetest.City, *Service) {
	c := servicetest.New(t)
	return c, New(c.DB, c.Clock, nil, nil)
}

func dateOf(t *testing.T, s string) *time.Time {
	t.Helper()
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatal(err)
	}
	return &d
}

// The amount rules of money.go at their edges, against figures worked
// out by hand.
func TestAmountsAreExactAtTheEdges(t *testing.T) {
	t.Run("money reads to the fen and refuses more", func(t *testing.T) {
		for in, want := range map[string]string{"0.01": "0.01", "1234.5": "1234.50", "999999999999.99": "999999999999.99",
			"0": "0.00", "12.300": "12.30", "-5.10": "-5.10"} {
			d, err := money(in, "金额", true)
			if err != nil || Yuan(d) != want {
				t.Errorf("money(%q) = %s, %v; want %s", in, Yuan(d), err, want)
			}
		}
		for _, in := range []string{"0.001", "12.345", "1e3", "1,234.00", "+1", " ", "", "1000000000000.00", "NaN", "0x10", ".5", "5."} {
			if _, err := money(in, "金额", true); err == nil {
				t.Errorf("money(%q) accepted", in)
			} else {
				servicetest.WantErr(t, err, service.KindInvalid, "bad_amount")
			}
		}
		if _, err := money("-0.01", "支出", false); err == nil || !strings.Contains(err.Error(), "不能为负数") {
			t.Errorf("negative accepted: %v", err)
		}
	})
	t.Run("rates keep four places", func(t *testing.T) {
		r, err := amount("0.6825", "费率", rateScale, false)
		if err != nil || Rate(r) != "0.6825" {
			t.Fatalf("rate %s %v", Rate(r), err)
		}
		if r, _ := amount("1.5", "费率", rateScale, false); Rate(r) != "1.50" {
			t.Fatalf("rate 1.5 shows %s", Rate(r))
		}
		if _, err := amount("0.68251", "费率", rateScale, false); err == nil {
			t.Fatal("five places accepted")
		}
	})
	t.Run("a household's fee rounds half-up to the fen", func(t *testing.T) {
		cases := []struct {
			area    int64 // m² × 100
			rate    string
			monthly string
			yearly  string
		}{
			{8950, "1.35", "120.83", "1449.96"},                // 89.50 × 1.35 = 120.825 → 120.83 (half-up)
			{8950, "1.3", "116.35", "1396.20"},                 // exactly 116.35
			{10001, "0.6825", "68.26", "819.12"},               // 100.01 × 0.6825 = 68.256825 → 68.26
			{1, "0.5", "0.01", "0.12"},                         // 0.01 × 0.5 = 0.005 → 0.01
			{1, "0.4999", "0.00", "0.00"},                      // 0.004999 → 0.00
			{99999999, "9.9999", "9999899.90", "119998798.80"}, // 9999899.900001
		}
		for _, c := range cases {
			r := decimal.RequireFromString(c.rate)
			if m, y := MonthlyFee(c.area, r), YearlyFee(c.area, r); Yuan(m) != c.monthly || Yuan(y) != c.yearly {
				t.Errorf("area %d × %s: %s / %s, want %s / %s", c.area, c.rate, Yuan(m), Yuan(y), c.monthly, c.yearly)
			}
		}
	})
	t.Run("sums of tenths stay exact", func(t *testing.T) {
		a, _ := money("0.10", "", false)
		b, _ := money("0.20", "", false)
		tot, _ := money("0.30", "", false)
		if err := checkArithmetic(decimal.Zero, tot, decimal.Zero, tot, a.Add(b), decimal.Zero); err != nil {
			t.Fatalf("0.10 + 0.20 ≠ 0.30: %v", err)
		}
	})
}

func revenueInput(c *servicetest.City) PublishInput {
	return PublishInput{CompoundID: c.Compounds[0].ID, Section: model.DisclosureRevenue, Period: "2026Q3",
		Opening: "10000.00", IncomeTotal: "15600.30", ExpenseTotal: "3200.10", Closing: "22400.20",
		Income: []LineInput{
			{Label: "电梯广告", Amount: "9000.10"},
			{Label: "临时停车", Amount: "6000.00", Detail: "7–9 月临停收入"},
			{Label: "场地租赁", Amount: "600.20"},
		},
		Expenses: []LineInput{{Label: "公共设施维修", Amount: "3200.10", Detail: "2 号楼单元门禁更换"}},
	}
}

func TestRevenueReportsThatDoNotAddUpAreRefused(t *testing.T) {
	c, s := newCity(t)
	mgr := c.Actor("manager")
	cases := []struct {
		name   string
		change func(*PublishInput)
		checks []string
		says   string
	}{
		{"income lines", func(in *PublishInput) { in.Income[0].Amount = "9000.00" }, []string{"income_total"},
			"收入明细合计 15600.20 元，与填报的收入合计 15600.30 元不符（相差 0.10 元）"},
		{"expense lines", func(in *PublishInput) { in.ExpenseTotal, in.Closing = "3200.00", "22400.30" }, []string{"expense_total"},
			"支出明细合计 3200.10 元，与填报的支出合计 3200.00 元不符（相差 0.10 元）"},
		{"closing", func(in *PublishInput) { in.Closing = "22400.21" }, []string{"closing"},
			"期初余额 10000.00 元 + 收入合计 15600.30 元 − 支出合计 3200.10 元 = 22400.20 元，与填报的期末余额 22400.21 元不符（相差 0.01 元）"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := revenueInput(c)
			tc.change(&in)
			_, _, err := s.Publish(c.Ctx, mgr, in)
			servicetest.WantErr(t, err, service.KindUnprocessable, "revenue_mismatch")
			se := err.(*service.Error)
			if !strings.Contains(se.Message, tc.says) {
				t.Fatalf("message %q does not say %q", se.Message, tc.says)
			}
			got := se.Detail.(map[string]any)["mismatches"].([]Mismatch)
			if len(got) != len(tc.checks) {
				t.Fatalf("mismatches %+v, want %v", got, tc.checks)
			}
			for i, m := range got {
				if m.Check != tc.checks[i] {
					t.Fatalf("mismatches %+v, want %v", got, tc.checks)
				}
			}
		})
	}
	var n int64
	c.DB.Model(&model.Disclosure{}).Count(&n)
	if n != 0 {
		t.Fatalf("%d versions written by refused reports", n)
	}
	t.Run("bad lines", func(t *testing.T) {
		in := revenueInput(c)
		in.Income[1].Label = "电梯广告"
		_, _, err := s.Publish(c.Ctx, mgr, in)
		servicetest.WantErr(t, err, service.KindInvalid, "duplicate_line")
		in = revenueInput(c)
		in.Income[2].Amount = "600.205"
		_, _, err = s.Publish(c.Ctx, mgr, in)
		servicetest.WantErr(t, err, service.KindInvalid, "bad_amount")
		in = revenueInput(c)
		in.Period = "2026Q5"
		_, _, err = s.Publish(c.Ctx, mgr, in)
		servicetest.WantErr(t, err, service.KindInvalid, "bad_period")
		in.Period = "2027-01"
		_, _, err = s.Publish(c.Ctx, mgr, in)
		servicetest.WantErr(t, err, service.KindUnprocessable, "future_period")
	})
}

// A revenue report from publication to countersignature and correction:
// versions are never edited, the correction is diffed line by line, and
// the committee signs only the current version.
func TestRevenueVersionsCountersignAndDiff(t *testing.T) {
	c, s := newCity(t)
	mgr, committee, community := c.Actor("manager"), c.Actor("committee"), c.Actor("community")
	var v1, v2 View
	c.Step(t, "publish", func(t *testing.T) {
		var created bool
		var err error
		in := revenueInput(c)
		in.IdemKey = "rev-q3"
		v1, created, err = s.Publish(c.Ctx, mgr, in)
		servicetest.Must(t, err)
		if !created || v1.Version != 1 || !v1.Current || v1.CountersignedAt != nil || Yuan(v1.Closing.Decimal) != "22400.20" ||
			len(v1.Lines) != 4 || Yuan(dec(v1.Lines[0].Amount)) != "9000.10" || v1.Title() != "2026年第3季度公共收益公示" {
			t.Fatalf("v1 %+v", v1)
		}
		again, created, err := s.Publish(c.Ctx, mgr, in)
		if err != nil || created || again.ID != v1.ID {
			t.Fatalf("replay %v %v %v", again.ID, created, err)
		}
	})
	c.Step(t, "edit refused", func(t *testing.T) {
		servicetest.WantErr(t, s.Edit(c.Ctx, mgr, v1.ID), service.KindConflict, "disclosure_published")
		servicetest.WantErr(t, s.Edit(c.Ctx, c.Actor("resident2"), v1.ID), service.KindForbidden, "out_of_scope")
	})
	c.Step(t, "second publication needs a correction", func(t *testing.T) {
		_, _, err := s.Publish(c.Ctx, mgr, revenueInput(c))
		servicetest.WantErr(t, err, service.KindUnprocessable, "correction_required")
		in := revenueInput(c)
		in.Corrects = v1.ID
		_, _, err = s.Publish(c.Ctx, mgr, in)
		servicetest.WantErr(t, err, service.KindInvalid, "bad_reason")
	})
	c.Step(t, "countersign", func(t *testing.T) {
		_, err := s.Countersign(c.Ctx, community, v1.ID, "")
		servicetest.WantErr(t, err, service.KindForbidden, "not_countersigner")
		_, err = s.Countersign(c.Ctx, mgr, v1.ID, "")
		servicetest.WantErr(t, err, service.KindForbidden, "not_countersigner")
		signed, err := s.Countersign(c.Ctx, committee, v1.ID, "经业委会核对无误")
		servicetest.Must(t, err)
		if signed.CountersignedAt == nil || signed.CountersignerRole != model.RoleCommittee || signed.SignerName != "业委会吴主任" {
			t.Fatalf("signed %+v", signed)
		}
		_, err = s.Countersign(c.Ctx, committee, v1.ID, "")
		servicetest.WantErr(t, err, service.KindConflict, "already_countersigned")
	})
	c.Step(t, "correction", func(t *testing.T) {
		in := revenueInput(c)
		in.Corrects, in.Reason = v1.ID, "电梯广告收入漏记 10 月初到账的 500 元，删除场地租赁（系重复记账）"
		in.Income[0].Amount = "9500.10"
		in.Income = in.Income[:2]
		in.Expenses = append(in.Expenses, LineInput{Label: "绿化补植", Amount: "300.00"})
		in.IncomeTotal, in.ExpenseTotal, in.Closing = "15500.10", "3500.10", "22000.00"
		var err error
		var created bool
		v2, created, err = s.Publish(c.Ctx, mgr, in)
		servicetest.Must(t, err)
		if !created || v2.Version != 2 || v2.SupersedesID != v1.ID || v2.CountersignedAt != nil || !v2.Current {
			t.Fatalf("v2 %+v", v2)
		}
		old, err := s.Get(c.Ctx, mgr, v1.ID)
		servicetest.Must(t, err)
		if old.Current || old.LatestID != v2.ID || Yuan(old.Closing.Decimal) != "22400.20" || old.CountersignedAt == nil {
			t.Fatalf("v1 changed or still current: %+v", old)
		}
		_, err = s.Countersign(c.Ctx, committee, v1.ID, "")
		servicetest.WantErr(t, err, service.KindConflict, "already_countersigned")
		stale := revenueInput(c)
		stale.Corrects, stale.Reason = v1.ID, "again"
		_, _, err = s.Publish(c.Ctx, mgr, stale)
		servicetest.WantErr(t, err, service.KindConflict, "stale_version")
	})
	c.Step(t, "diff", func(t *testing.T) {
		d, err := s.Diff(c.Ctx, c.Actor("resident"), v2.ID, 0)
		servicetest.Must(t, err)
		fields := map[string]string{}
		for _, f := range d.Fields {
			fields[f.Field] = f.From + "→" + f.To + " Δ" + f.Delta.StringFixed(2)
		}
		want := map[string]string{"income_total": "15600.30→15500.10 Δ-100.20", "expense_total": "3200.10→3500.10 Δ300.00",
			"closing": "22400.20→22000.00 Δ-400.20"}
		if len(fields) != len(want) {
			t.Fatalf("fields %v", fields)
		}
		for k, v := range want {
			if fields[k] != v {
				t.Fatalf("field %s: %s, want %s", k, fields[k], v)
			}
		}
		lines := map[string]string{}
		for _, l := range d.Lines {
			s := l.Change
			if l.Delta != nil {
				s += " Δ" + l.Delta.StringFixed(2)
			}
			lines[l.Label] = s
		}
		wantLines := map[string]string{"电梯广告": "changed Δ500.00", "场地租赁": "removed", "绿化补植": "added"}
		if len(lines) != 3 || d.Unchanged != 2 {
			t.Fatalf("lines %v unchanged %d", lines, d.Unchanged)
		}
		for k, v := range wantLines {
			if lines[k] != v {
				t.Fatalf("line %s: %s, want %s", k, lines[k], v)
			}
		}
		_, err = s.Diff(c.Ctx, mgr, v1.ID, 0)
		servicetest.WantErr(t, err, service.KindUnprocessable, "no_earlier_version")
	})
	c.Step(t, "history and board", func(t *testing.T) {
		vs, err := s.Versions(c.Ctx, c.Actor("resident"), v1.ID)
		servicetest.Must(t, err)
		if len(vs) != 2 || vs[0].ID != v1.ID || vs[1].ID != v2.ID || !vs[1].Current || vs[0].Current {
			t.Fatalf("history %+v", vs)
		}
		b, err := s.Board(c.Ctx, c.Actor("resident"), c.Compounds[0].ID)
		servicetest.Must(t, err)
		if len(b.Sections) != 1 || b.Sections[0].ID != v2.ID || b.Sections[0].CountersignedAt != nil || len(b.Missing) != 4 {
			t.Fatalf("board %+v", b)
		}
	})
}

func TestScopeOfBoards(t *testing.T) {
	c, s := newCity(t)
	mgr := c.Actor("manager")
	fees := PublishInput{CompoundID: c.Compounds[0].ID, Section: model.DisclosureFees,
		Fees: []LineInput{
			{Label: "住宅", Amount: "1.35", Basis: "烟价发〔2024〕12号", EffectiveOn: dateOf(t, "2026-01-01")},
			{Label: "商业", Amount: "3.6825", Basis: "物业服务合同第五条", EffectiveOn: dateOf(t, "2026-01-01")},
		},
		Charges: []LineInput{{Label: "地上停车位", Amount: "80.00", Unit: "元/个·月", Basis: "业主大会决议（2025年第2次）"}},
	}
	var v View
	c.Step(t, "a firm publishes for compounds under a live contract only", func(t *testing.T) {
		var err error
		v, _, err = s.Publish(c.Ctx, mgr, fees)
		servicetest.Must(t, err)
		if Rate(dec(v.Lines[1].Amount)) != "3.6825" || Yuan(dec(v.Lines[2].Amount)) != "80.00" || v.FirmID != c.Firm.ID {
			t.Fatalf("fees %+v", v.Lines)
		}
		other := fees
		other.CompoundID = c.Compounds[2].ID // no contract
		_, _, err = s.Publish(c.Ctx, mgr, other)
		servicetest.WantErr(t, err, service.KindForbidden, "no_live_contract")
		// The contract of compound 1 ended yesterday.
		yesterday := today(c.Clock.Now()).AddDate(0, 0, -1)
		servicetest.Must(t, c.DB.Model(&model.Contract{}).Where("compound_id = ?", c.Compounds[1].ID).Update("ends_on", yesterday).Error)
		other.CompoundID = c.Compounds[1].ID
		_, _, err = s.Publish(c.Ctx, mgr, other)
		servicetest.WantErr(t, err, service.KindForbidden, "no_live_contract")
		_, _, err = s.Publish(c.Ctx, c.Actor("resident"), fees)
		servicetest.WantErr(t, err, service.KindForbidden, "forbidden")
	})
	c.Step(t, "a resident of another compound never sees the board", func(t *testing.T) {
		_, err := s.Board(c.Ctx, c.Actor("resident2"), c.Compounds[0].ID)
		servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
		_, err = s.Get(c.Ctx, c.Actor("resident2"), v.ID)
		servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
		_, err = s.Diff(c.Ctx, c.Actor("resident2"), v.ID, 0)
		servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
		_, err = s.List(c.Ctx, c.Actor("community2"), c.Compounds[0].ID, ListFilter{}, service.Page{})
		servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
		b, err := s.Board(c.Ctx, c.Actor("resident"), c.Compounds[0].ID)
		servicetest.Must(t, err)
		if len(b.Sections) != 1 || b.Sections[0].ID != v.ID {
			t.Fatalf("own board %+v", b)
		}
	})
	c.Step(t, "quote", func(t *testing.T) {
		q, err := s.Quote(c.Ctx, c.Actor("resident"), v.ID, "89.50")
		servicetest.Must(t, err)
		if len(q.Lines) != 2 || Yuan(q.Lines[0].Monthly) != "120.83" || Yuan(q.Lines[1].Monthly) != "329.58" {
			t.Fatalf("quote %+v", q)
		}
		_, err = s.Quote(c.Ctx, c.Actor("resident"), v.ID, "89.505")
		servicetest.WantErr(t, err, service.KindInvalid, "bad_amount")
	})
}

func TestFirmServiceAndChannelsFromTheTree(t *testing.T) {
	c, s := newCity(t)
	mgr := c.Actor("manager")
	comp := c.Compounds[0].ID
	c.Step(t, "firm needs the project manager on the contract", func(t *testing.T) {
		servicetest.Must(t, c.DB.Model(&model.Contract{}).Where("compound_id = ?", comp).Update("project_manager", "").Error)
		_, _, err := s.Publish(c.Ctx, mgr, PublishInput{CompoundID: comp, Section: model.DisclosureFirm})
		servicetest.WantErr(t, err, service.KindUnprocessable, "contract_incomplete")
		servicetest.Must(t, c.DB.Model(&model.Contract{}).Where("compound_id = ?", comp).Update("project_manager", "孙立新").Error)
		v, _, err := s.Publish(c.Ctx, mgr, PublishInput{CompoundID: comp, Section: model.DisclosureFirm})
		servicetest.Must(t, err)
		got := map[string]string{}
		for _, l := range v.Lines {
			got[l.Label] = l.Detail
		}
		if got["企业名称"] != "红心物业服务有限公司" || got["项目经理"] != "孙立新" || got["24小时服务电话"] != "0535-2218899" ||
			got["营业执照（统一社会信用代码）"] != "91370600MA3DEMO01X" || got["合同期"] != "2026-01-01 至 2028-12-31" {
			t.Fatalf("firm lines %v", got)
		}
	})
	c.Step(t, "service standards", func(t *testing.T) {
		_, _, err := s.Publish(c.Ctx, mgr, PublishInput{CompoundID: comp, Section: model.DisclosureService, ServiceLevel: "二级"})
		servicetest.WantErr(t, err, service.KindInvalid, "no_items")
		v, _, err := s.Publish(c.Ctx, mgr, PublishInput{CompoundID: comp, Section: model.DisclosureService, ServiceLevel: "二级",
			Items: []LineInput{{Label: "保洁", Detail: "楼道每日清扫一次"}, {Label: "秩序维护", Detail: "24 小时门岗"}}})
		servicetest.Must(t, err)
		if v.ServiceLevel != "二级" || len(v.Lines) != 2 {
			t.Fatalf("service %+v", v)
		}
	})
	c.Step(t, "channels by the community too", func(t *testing.T) {
		v, _, err := s.Publish(c.Ctx, c.Actor("community"), PublishInput{CompoundID: comp, Section: model.DisclosureChannels,
			CommunityPhone: "0535-6601234", StreetPhone: "0535-6600000"})
		servicetest.Must(t, err)
		kinds := []string{}
		for _, l := range v.Lines {
			kinds = append(kinds, l.Unit)
		}
		if strings.Join(kinds, ",") != "hotline,miniprogram,community,street,12345" || v.Lines[2].Detail != "双语社区 0535-6601234" {
			t.Fatalf("channels %+v", v.Lines)
		}
		_, _, err = s.Publish(c.Ctx, c.Actor("community2"), PublishInput{CompoundID: comp, Section: model.DisclosureChannels})
		servicetest.WantErr(t, err, service.KindForbidden, "forbidden")
	})
}

// Where the compound has no committee the community countersigns.
func TestCommunityCountersignsWithoutACommittee(t *testing.T) {
	c, s := newCity(t)
	in := revenueInput(c)
	in.CompoundID = c.Compounds[1].ID
	v, _, err := s.Publish(c.Ctx, c.Actor("manager"), in)
	servicetest.Must(t, err)
	// Compound 0's committee is not this compound's: it may not even read it.
	_, err = s.Countersign(c.Ctx, c.Actor("committee"), v.ID, "")
	servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
	_, err = s.Countersign(c.Ctx, c.Actor("grid"), v.ID, "")
	servicetest.WantErr(t, err, service.KindForbidden, "")
	// A correction before anyone signed: the first version can no longer be signed.
	fix := revenueInput(c)
	fix.CompoundID, fix.Corrects, fix.Reason = c.Compounds[1].ID, v.ID, "补充说明"
	fix.Note = "维修支出含材料费"
	v2, _, err := s.Publish(c.Ctx, c.Actor("manager"), fix)
	servicetest.Must(t, err)
	_, err = s.Countersign(c.Ctx, c.Actor("community"), v.ID, "")
	servicetest.WantErr(t, err, service.KindConflict, "superseded")
	v = v2
	signed, err := s.Countersign(c.Ctx, c.Actor("community"), v.ID, "社区已核对")
	servicetest.Must(t, err)
	if signed.CountersignerRole != model.RoleCommunityStaff {
		t.Fatalf("signed %+v", signed)
	}
}

// The committee publishes a revenue report too, and the community where
// the compound has none; neither publishes another section, nor the
// community where there is a committee.
func TestCommitteeOrCommunityPublishesRevenue(t *testing.T) {
	c, s := newCity(t)
	v, created, err := s.Publish(c.Ctx, c.Actor("committee"), revenueInput(c))
	servicetest.Must(t, err)
	if !created || v.FirmID != 0 || v.PublishedBy != c.Actor("committee").UserID || v.CountersignedAt != nil {
		t.Fatalf("committee's report %+v", v.Disclosure)
	}
	_, _, err = s.Publish(c.Ctx, c.Actor("community"), PublishInput{CompoundID: c.Compounds[0].ID, Section: model.DisclosureRevenue,
		Period: "2026Q2", Opening: "0", IncomeTotal: "1.00", ExpenseTotal: "0", Closing: "1.00", Income: []LineInput{{Label: "广告", Amount: "1.00"}}})
	servicetest.WantErr(t, err, service.KindForbidden, "")
	in := revenueInput(c)
	in.CompoundID = c.Compounds[1].ID
	v, _, err = s.Publish(c.Ctx, c.Actor("community"), in)
	servicetest.Must(t, err)
	if v.CompoundID != c.Compounds[1].ID || v.FirmID != 0 {
		t.Fatalf("community's report %+v", v.Disclosure)
	}
	_, _, err = s.Publish(c.Ctx, c.Actor("committee"), PublishInput{CompoundID: c.Compounds[0].ID, Section: model.DisclosureService,
		ServiceLevel: "一级", Items: []LineInput{{Label: "保洁", Detail: "每日两次"}}})
	servicetest.WantErr(t, err, service.KindForbidden, "")
	in = revenueInput(c)
	in.Period = "2026-07"
	_, _, err = s.Publish(c.Ctx, c.Actor("resident"), in)
	servicetest.WantErr(t, err, service.KindForbidden, "")
}

// A new fee standard is a new version; the diff says which rate moved and
// by how much, to the fen (or the fourth place of a rate).
func TestFeeVersionsDiff(t *testing.T) {
	c, s := newCity(t)
	mgr := c.Actor("manager")
	in := PublishInput{CompoundID: c.Compounds[0].ID, Section: model.DisclosureFees,
		Fees: []LineInput{
			{Label: "住宅", Amount: "1.35", Basis: "烟价发〔2024〕12号", EffectiveOn: dateOf(t, "2026-01-01")},
			{Label: "商业", Amount: "3.60", Basis: "物业服务合同第五条", EffectiveOn: dateOf(t, "2026-01-01")},
		},
		Charges: []LineInput{{Label: "地上停车位", Amount: "80.00", Unit: "元/个·月"}},
	}
	v1, _, err := s.Publish(c.Ctx, mgr, in)
	servicetest.Must(t, err)
	in.Corrects, in.Reason = v1.ID, "业主大会表决调整住宅物业费"
	in.Fees[0].Amount, in.Fees[0].Basis, in.Fees[0].EffectiveOn = "1.4825", "业主大会决议（2026年第1次）", dateOf(t, "2027-01-01")
	v2, _, err := s.Publish(c.Ctx, mgr, in)
	servicetest.Must(t, err)
	d, err := s.Diff(c.Ctx, c.Actor("resident"), v2.ID, v1.ID)
	servicetest.Must(t, err)
	if len(d.Lines) != 1 || d.Unchanged != 2 {
		t.Fatalf("diff %+v", d.Lines)
	}
	l := d.Lines[0]
	if l.Label != "住宅" || l.Delta == nil || Rate(*l.Delta) != "0.1325" || len(l.Fields) != 2 ||
		l.Fields[0].Field != "basis" || l.Fields[1].Field != "effective_on" || l.Fields[1].To != "2027-01-01" {
		t.Fatalf("line change %+v %+v", l, l.Fields)
	}
	_, err = s.Diff(c.Ctx, mgr, v2.ID, v2.ID)
	servicetest.WantErr(t, err, service.KindInvalid, "same_version")
	rev, _, err := s.Publish(c.Ctx, mgr, revenueInput(c))
	servicetest.Must(t, err)
	_, err = s.Diff(c.Ctx, mgr, v2.ID, rev.ID)
	servicetest.WantErr(t, err, service.KindUnprocessable, "not_same_section")
}

// Two corrections of one version racing: one becomes version 2, the
// other is refused and nothing of it is written. On MariaDB the two run
// truly side by side; the unique index of a chain decides.
func TestRacingCorrectionsOneWins(t *testing.T) {
	c, s := newCity(t)
	mgr := c.Actor("manager")
	v1, _, err := s.Publish(c.Ctx, mgr, revenueInput(c))
	servicetest.Must(t, err)
	errs := make(chan error, 2)
	for i := range 2 {
		go func() {
			in := revenueInput(c)
			in.Corrects, in.Reason = v1.ID, "更正"+strconv.Itoa(i)
			_, _, err := s.Publish(c.Ctx, mgr, in)
			errs <- err
		}()
	}
	var won, lost int
	for range 2 {
		err := <-errs
		switch {
		case err == nil:
			won++
		case service.KindOf(err) == service.KindConflict:
			lost++
		default:
			t.Fatalf("unexpected %v", err)
		}
	}
	var n int64
	c.DB.Model(&model.Disclosure{}).Where("compound_id = ? AND section = ?", c.Compounds[0].ID, model.DisclosureRevenue).Count(&n)
	var lines int64
	c.DB.Model(&model.DisclosureLine{}).Count(&lines)
	if won != 1 || lost != 1 || n != 2 || lines != 8 {
		t.Fatalf("won %d lost %d versions %d lines %d", won, lost, n, lines)
	}
}

// A page of the board's history costs the same statements whatever the
// number of periods and versions on it: where each version stands in its
// chain is read in one statement, not one per period.
func TestHistoryPageStatementsDoNotGrow(t *testing.T) {
	c, s := newCity(t)
	mgr := c.Actor("manager")
	publish := func(period string) {
		t.Helper()
		in := revenueInput(c)
		in.Period = period
		_, _, err := s.Publish(c.Ctx, mgr, in)
		servicetest.Must(t, err)
	}
	n := dbtest.CountStatements(t, c.DB)
	count := func() (int64, int) {
		t.Helper()
		n.Take()
		n.On.Store(true)
		res, err := s.List(c.Ctx, mgr, c.Compounds[0].ID, ListFilter{History: true}, service.Page{Limit: 50})
		n.On.Store(false)
		servicetest.Must(t, err)
		got, _ := n.Take()
		return got, len(res.Items)
	}
	publish("2026Q1")
	publish("2026Q2")
	few, items := count()
	if items != 2 {
		t.Fatalf("%d versions listed, want 2", items)
	}
	for _, p := range []string{"2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q3", "2026-01", "2026-02"} {
		publish(p)
	}
	many, items := count()
	if items != 9 {
		t.Fatalf("%d versions listed, want 9", items)
	}
	if many != few {
		t.Fatalf("%d statements for 9 periods, %d for 2: a statement per period", many, few)
	}
}
