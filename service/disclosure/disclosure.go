// Package disclosure runs the disclosure boards (三公开) of compounds:
// the firm that serves it, its service standards, its fees, the
// complaint channels and its public revenue (公共收益), each published as
// versions that are never edited. The firm with a live contract
// publishes; the committee (the community where there is none)
// countersigns revenue reports; a correction is a new version with its
// reason, and any two versions of one section can be compared line by
// line. Publishing tells the compound's households. It must not import
// gin, net/http or api/.
package disclosure

import (
	"context"
	"io"
	"time"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
)

// PhotoStore reads stored attachment bytes; photo.Storage implements it.
type PhotoStore interface {
	Open(ctx context.Context, key string) (io.ReadCloser, error)
}

// Service is the disclosure capability.
type Service struct {
	db       *gorm.DB
	clock    service.Clock
	store    PhotoStore
	receipts Receipts
}

// New builds the service; receipts tells households of a new version and
// counts who was reached (nil: nobody is told).
func New(db *gorm.DB, clock service.Clock, store PhotoStore, receipts Receipts) *Service {
	return &Service{db: db, clock: clock, store: store, receipts: receipts}
}

// Sections lists the sections of a board in the order it shows them.
func Sections() []string {
	return []string{model.DisclosureFirm, model.DisclosureService, model.DisclosureFees, model.DisclosureChannels, model.DisclosureRevenue}
}

// sectionNames are the sections as residents read them.
var sectionNames = map[string]string{
	model.DisclosureFirm:     "企业信息",
	model.DisclosureService:  "服务标准",
	model.DisclosureFees:     "收费标准",
	model.DisclosureChannels: "投诉渠道",
	model.DisclosureRevenue:  "公共收益",
}

// SectionName is the Chinese name of a section.
func SectionName(s string) string { return sectionNames[s] }

var (
	errNotFound       = service.NotFound("disclosure_not_found", "公示不存在")
	errCompound       = service.NotFound("compound_not_found", "小区不存在")
	errSection        = service.Invalid("bad_section", "公示栏目须为 firm（企业信息）、service（服务标准）、fees（收费标准）、channels（投诉渠道）或 revenue（公共收益）")
	errImmutable      = service.Conflict("disclosure_published", "已公示的版本不能修改；如需更正，请发布更正版本并说明更正原因")
	errAttachmentGone = service.NotFound("attachment_not_found", "附件不存在")
)

// View is one version with its lines and where it stands in its chain.
type View struct {
	model.Disclosure
	Lines         []model.DisclosureLine
	CompoundName  string
	FirmName      string
	PublisherName string
	SignerName    string
	Current       bool // no later version of its chain exists
	LatestID      int64
	LatestVersion int
}

// Title is how the board heads a version.
func (v View) Title() string {
	if v.Section == model.DisclosureRevenue {
		return periodTitle(v.Period) + "公共收益公示"
	}
	return SectionName(v.Section)
}

// today is the Beijing date in the form contract dates are stored.
func today(now time.Time) time.Time {
	y, m, d := now.In(calendar.Beijing).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// dec returns the decimal of a nullable column (zero when NULL).
func dec(d *model.Dec) decimal.Decimal {
	if d == nil {
		return decimal.Zero
	}
	return d.Decimal
}

func decp(d decimal.Decimal) *model.Dec {
	v := model.NewDec(d)
	return &v
}
