package disclosure

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// Limits of what a version holds.
const (
	maxLines       = 200
	maxLabel       = 64
	maxDetail      = 500
	maxBasis       = 200
	maxUnit        = 32
	maxReason      = 500
	maxNote        = 500
	maxLevel       = 32
	maxAttachments = 9
)

// LineInput is one line as a publisher writes it. Amounts are decimal
// strings (see the rules in money.go).
type LineInput struct {
	Label       string
	Amount      string
	Unit        string
	Basis       string
	EffectiveOn *time.Time
	Detail      string
	Attachments []int64
}

// PublishInput is a new version of one section of a compound's board.
// The firm section takes nothing but a note: it is read from the org tree.
type PublishInput struct {
	CompoundID int64
	Section    string
	// Corrects is the version this one corrects; required (with Reason)
	// once the section (the period, for revenue) has a version.
	Corrects int64
	Reason   string
	Note     string

	ServiceLevel string      // service
	Items        []LineInput // service: category and standard
	Fees         []LineInput // fees: property type, rate per m² per month
	Charges      []LineInput // fees: parking and other charges

	CommunityPhone string // channels
	StreetPhone    string

	Period       string // revenue
	Opening      string
	IncomeTotal  string
	ExpenseTotal string
	Closing      string
	Income       []LineInput
	Expenses     []LineInput

	IdemKey string
}

var (
	errReason       = service.Invalid("bad_reason", "更正须说明原因（不超过 500 个字）")
	errNote         = service.Invalid("bad_note", "说明不能超过 500 个字")
	errCorrects     = service.Unprocessable("correction_required", "本栏目已有公示版本，请指明被更正的版本（corrects_id）并说明更正原因")
	errNothingToFix = service.Unprocessable("nothing_to_correct", "本栏目尚无公示版本，无需更正")
	errTooMany      = service.Invalid("too_many_lines", fmt.Sprintf("每个公示最多 %d 行", maxLines))
	errRaced        = service.Conflict("version_taken", "另一版本刚刚发布，请刷新后基于最新版本更正")
	errLevel        = service.Invalid("bad_service_level", "请填写服务等级（不超过 32 个字）")
	errNoItems      = service.Invalid("no_items", "请至少填写一项服务内容")
	errNoFees       = service.Invalid("no_fees", "请至少填写一项物业费收费标准")
	errNoLines      = service.Invalid("no_lines", "公共收益报告至少应有一项收入或支出")
	errNoManager    = service.Unprocessable("contract_incomplete", "合同中尚未登记项目经理或 24 小时服务电话，请先由区住建部门补全合同信息")
	errNoFirm       = service.Unprocessable("no_firm", "该小区目前没有在期的物业服务合同，无法生成企业信息与服务电话")
	errAttachments  = service.Unprocessable("attachment_unavailable", fmt.Sprintf("附件须为您本人上传的照片或 PDF，每行最多 %d 个且不能重复", maxAttachments))
)

// Publish publishes a version. It returns created=false, and the first
// version, when the publisher already published one with the same
// Idempotency-Key.
func (s *Service) Publish(ctx context.Context, a *service.Actor, in PublishInput) (View, bool, error) {
	if a == nil {
		return View{}, false, service.ErrUnauthenticated
	}
	if in.IdemKey != "" {
		if err := service.CheckIdemKey(in.IdemKey); err != nil {
			return View{}, false, err
		}
		d, ok, err := model.ByIdemKey[model.Disclosure](ctx, s.db, "published_by", a.UserID, in.IdemKey)
		if err != nil {
			return View{}, false, err
		}
		if ok {
			v, err := s.Get(ctx, a, d.ID)
			return v, false, err
		}
	}
	if !slices.Contains(Sections(), in.Section) {
		return View{}, false, errSection
	}
	c, err := s.compound(ctx, in.CompoundID)
	if err != nil {
		return View{}, false, err
	}
	pub, err := s.publisher(ctx, a, c, in.Section)
	if err != nil {
		return View{}, false, err
	}
	in.Reason, in.Note = strings.TrimSpace(in.Reason), strings.TrimSpace(in.Note)
	if utf8.RuneCountInString(in.Note) > maxNote {
		return View{}, false, errNote
	}
	d := model.Disclosure{Section: in.Section, Note: in.Note, FirmID: pub.firmID, PublishedBy: a.UserID, Ancestry: c.Ancestry}
	var lines []model.DisclosureLine
	switch in.Section {
	case model.DisclosureFirm:
		lines, err = firmLines(pub)
	case model.DisclosureService:
		lines, err = serviceLines(&d, in)
	case model.DisclosureFees:
		lines, err = feeLines(in)
	case model.DisclosureChannels:
		lines, err = s.channelLines(ctx, c, pub, in)
	case model.DisclosureRevenue:
		lines, err = s.revenueLines(&d, in)
	}
	if err != nil {
		return View{}, false, err
	}
	if err := s.checkAttachments(ctx, a.UserID, lines); err != nil {
		return View{}, false, err
	}
	if in.IdemKey != "" {
		k := in.IdemKey
		d.IdemKey = &k
	}
	now := s.clock.Now().UTC()
	d.CreatedAt, d.UpdatedAt, d.PublishedAt = now, now, now
	// A deadlock between racing publishers is retried: the retry reads the
	// winner's version and answers stale_version.
	err = model.InTxRetry(ctx, s.db, 3, func(tx *gorm.DB) error {
		d.ID = 0
		for i := range lines {
			lines[i].ID = 0
		}
		prev, found, err := model.LatestDisclosure(ctx, tx, c.ID, d.Section, d.Period)
		if err != nil {
			return err
		}
		switch {
		case found && in.Corrects == 0:
			return errCorrects
		case !found && in.Corrects != 0:
			return errNothingToFix
		case found && in.Corrects != prev.ID:
			return service.Conflict("stale_version", fmt.Sprintf("被更正的不是最新版本：本栏目最新为第 %d 版，请基于最新版本更正", prev.Version)).
				WithDetail(map[string]any{"latest_id": prev.ID, "latest_version": prev.Version})
		case found && (in.Reason == "" || utf8.RuneCountInString(in.Reason) > maxReason):
			return errReason
		}
		d.Version = 1
		if found {
			d.Version, d.SupersedesID, d.Reason = prev.Version+1, prev.ID, in.Reason
		}
		if err := model.CreateDisclosure(ctx, tx, &d, lines); err != nil {
			return err
		}
		return s.tell(ctx, tx, &d, c)
	})
	if errors.Is(err, model.ErrDuplicate) {
		if in.IdemKey != "" {
			if prev, ok, ferr := model.ByIdemKey[model.Disclosure](ctx, s.db, "published_by", a.UserID, in.IdemKey); ferr == nil && ok {
				v, err := s.Get(ctx, a, prev.ID)
				return v, false, err
			}
		}
		return View{}, false, errRaced
	}
	if err != nil {
		return View{}, false, err
	}
	v, err := s.Get(ctx, a, d.ID)
	return v, true, err
}

// Edit is refused for every version: what was published stays as it was.
// The caller still learns first whether it may see the version at all.
func (s *Service) Edit(ctx context.Context, a *service.Actor, id int64) error {
	if _, _, err := s.take(ctx, a, id); err != nil {
		return err
	}
	return errImmutable
}

func text(s string, least, most int, err error) (string, error) {
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n < least || n > most {
		return "", err
	}
	return s, nil
}

// line checks the texts of one line; what names the line in messages.
func line(kind string, pos int, in LineInput, what string) (model.DisclosureLine, error) {
	l := model.DisclosureLine{Kind: kind, Position: pos, EffectiveOn: in.EffectiveOn, Attachments: in.Attachments}
	var err error
	if l.Label, err = text(in.Label, 1, maxLabel, service.Invalid("bad_label", fmt.Sprintf("第 %d 行%s名称须为 1 到 %d 个字", pos+1, what, maxLabel))); err != nil {
		return l, err
	}
	if l.Unit, err = text(in.Unit, 0, maxUnit, service.Invalid("bad_unit", fmt.Sprintf("%s「%s」的计费单位不能超过 %d 个字", what, l.Label, maxUnit))); err != nil {
		return l, err
	}
	if l.Basis, err = text(in.Basis, 0, maxBasis, service.Invalid("bad_basis", fmt.Sprintf("%s「%s」的收费依据不能超过 %d 个字", what, l.Label, maxBasis))); err != nil {
		return l, err
	}
	if l.Detail, err = text(in.Detail, 0, maxDetail, service.Invalid("bad_detail", fmt.Sprintf("%s「%s」的说明不能超过 %d 个字", what, l.Label, maxDetail))); err != nil {
		return l, err
	}
	if l.EffectiveOn != nil {
		d := today(*l.EffectiveOn)
		y := d.Year()
		if y < 2000 || y > 2100 {
			return l, service.Invalid("bad_effective_on", fmt.Sprintf("%s「%s」的执行日期无效", what, l.Label))
		}
		l.EffectiveOn = &d
	}
	return l, nil
}

// unique refuses two lines of one kind with the same label: a diff
// matches lines by it.
func unique(lines []model.DisclosureLine, what string) error {
	seen := map[string]bool{}
	for _, l := range lines {
		k := l.Kind + "\x00" + l.Label
		if seen[k] {
			return service.Invalid("duplicate_line", fmt.Sprintf("%s「%s」重复，同一项目请合并为一行", what, l.Label))
		}
		seen[k] = true
	}
	return nil
}

func firmLines(p publisher) ([]model.DisclosureLine, error) {
	if !p.hasFirm {
		return nil, errNoFirm
	}
	hot := p.contract.Hotline24
	if hot == "" {
		hot = p.firm.Hotline
	}
	if p.contract.ProjectManager == "" || hot == "" {
		return nil, errNoManager
	}
	licence := "未登记"
	if p.firm.CreditCode != nil {
		licence = *p.firm.CreditCode
	}
	facts := [][2]string{
		{"企业名称", p.firm.Name},
		{"营业执照（统一社会信用代码）", licence},
		{"合同期", p.contract.StartsOn.Format(time.DateOnly) + " 至 " + p.contract.EndsOn.Format(time.DateOnly)},
		{"项目经理", p.contract.ProjectManager},
		{"项目经理电话", p.contract.ManagerPhone},
		{"24小时服务电话", hot},
	}
	var lines []model.DisclosureLine
	for _, f := range facts {
		if f[1] == "" {
			continue
		}
		lines = append(lines, model.DisclosureLine{Kind: model.LineFirm, Position: len(lines), Label: f[0], Detail: f[1]})
	}
	return lines, nil
}

func serviceLines(d *model.Disclosure, in PublishInput) ([]model.DisclosureLine, error) {
	level, err := text(in.ServiceLevel, 1, maxLevel, errLevel)
	if err != nil {
		return nil, err
	}
	d.ServiceLevel = level
	if len(in.Items) == 0 {
		return nil, errNoItems
	}
	if len(in.Items) > maxLines {
		return nil, errTooMany
	}
	var lines []model.DisclosureLine
	for i, it := range in.Items {
		l, err := line(model.LineService, i, it, "服务项目")
		if err != nil {
			return nil, err
		}
		if l.Detail == "" {
			return nil, service.Invalid("bad_detail", fmt.Sprintf("服务项目「%s」请写明服务标准", l.Label))
		}
		l.Attachments = nil
		lines = append(lines, l)
	}
	return lines, nil
}

func feeLines(in PublishInput) ([]model.DisclosureLine, error) {
	if len(in.Fees) == 0 {
		return nil, errNoFees
	}
	if len(in.Fees)+len(in.Charges) > maxLines {
		return nil, errTooMany
	}
	var lines []model.DisclosureLine
	for _, f := range in.Fees {
		l, err := line(model.LineFee, len(lines), f, "物业类型")
		if err != nil {
			return nil, err
		}
		rate, err := amount(strings.TrimSpace(f.Amount), fmt.Sprintf("「%s」的收费标准", l.Label), rateScale, false)
		if err != nil {
			return nil, err
		}
		if !rate.IsPositive() {
			return nil, service.Invalid("bad_amount", fmt.Sprintf("「%s」的收费标准须大于 0", l.Label))
		}
		if l.Basis == "" || l.EffectiveOn == nil {
			return nil, service.Invalid("bad_basis", fmt.Sprintf("「%s」的收费标准须写明收费依据和执行日期", l.Label))
		}
		l.Amount, l.Unit, l.Attachments = decp(rate), "元/平方米·月", nil
		lines = append(lines, l)
	}
	for _, f := range in.Charges {
		l, err := line(model.LineCharge, len(lines), f, "收费项目")
		if err != nil {
			return nil, err
		}
		m, err := money(strings.TrimSpace(f.Amount), fmt.Sprintf("「%s」的收费金额", l.Label), false)
		if err != nil {
			return nil, err
		}
		if !m.IsPositive() || l.Unit == "" {
			return nil, service.Invalid("bad_amount", fmt.Sprintf("「%s」须写明大于 0 的金额和计费单位（如 元/个·月）", l.Label))
		}
		l.Amount, l.Attachments = decp(m), nil
		lines = append(lines, l)
	}
	return lines, unique(lines, "收费项目")
}

func (s *Service) channelLines(ctx context.Context, c model.Compound, p publisher, in PublishInput) ([]model.DisclosureLine, error) {
	if !p.hasFirm {
		return nil, errNoFirm
	}
	hot := p.contract.Hotline24
	if hot == "" {
		hot = p.firm.Hotline
	}
	if hot == "" {
		return nil, errNoManager
	}
	names, err := model.NamesOf(ctx, s.db, &model.Region{}, "name", []int64{c.CommunityID, c.StreetID})
	if err != nil {
		return nil, err
	}
	phone := func(v, what string) (string, error) {
		v = strings.TrimSpace(v)
		if len(v) > 32 || strings.IndexFunc(v, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '-' || r == '+' || r == ' ') }) >= 0 {
			return "", service.Invalid("bad_phone", what+"电话只能包含数字、空格、“-”和“+”，不超过 32 个字符")
		}
		return v, nil
	}
	com, err := phone(in.CommunityPhone, "社区")
	if err != nil {
		return nil, err
	}
	st, err := phone(in.StreetPhone, "街道")
	if err != nil {
		return nil, err
	}
	join := func(name, tel string) string {
		if tel == "" {
			return name
		}
		return name + " " + tel
	}
	rows := [][3]string{
		{"hotline", "物业24小时服务电话", join(p.firm.Name, hot)},
		{"miniprogram", "小程序投诉", "在本小程序“我要报事”中选择“投诉”，全程可查进度"},
		{"community", "社区", join(names[c.CommunityID], com)},
		{"street", "街道", join(names[c.StreetID], st)},
		{"12345", "12345 政务服务便民热线", "12345"},
	}
	var lines []model.DisclosureLine
	for i, r := range rows {
		lines = append(lines, model.DisclosureLine{Kind: model.LineChannel, Position: i, Unit: r[0], Label: r[1], Detail: r[2]})
	}
	return lines, nil
}

// checkAttachments makes sure every attachment is an upload of the
// publisher and no line names one twice.
func (s *Service) checkAttachments(ctx context.Context, userID int64, lines []model.DisclosureLine) error {
	var all []int64
	for _, l := range lines {
		if len(l.Attachments) > maxAttachments {
			return errAttachments
		}
		for i, id := range l.Attachments {
			if id <= 0 || slices.Contains(l.Attachments[:i], id) {
				return errAttachments
			}
		}
		all = append(all, l.Attachments...)
	}
	if len(all) == 0 {
		return nil
	}
	slices.Sort(all)
	all = slices.Compact(all)
	own, err := model.OwnPhotoIDs(ctx, s.db, userID, all)
	if err != nil {
		return err
	}
	if len(own) != len(all) {
		return errAttachments
	}
	return nil
}

// sum adds the amounts of lines.
func sum(lines []model.DisclosureLine) decimal.Decimal {
	t := decimal.Zero
	for _, l := range lines {
		t = t.Add(dec(l.Amount))
	}
	return t
}
