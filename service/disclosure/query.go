package disclosure

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// take reads a version and its compound, and checks the reader.
func (s *Service) take(ctx context.Context, a *service.Actor, id int64) (model.Disclosure, model.Compound, error) {
	if a == nil {
		return model.Disclosure{}, model.Compound{}, service.ErrUnauthenticated
	}
	d, err := model.ByID[model.Disclosure](ctx, s.db, id)
	if err != nil {
		return d, model.Compound{}, service.OrNotFound(err, errNotFound)
	}
	c, err := s.compound(ctx, d.CompoundID)
	if err != nil {
		return d, c, err
	}
	return d, c, s.mayRead(ctx, a, c)
}

// Get returns one version to those who may read its compound's board.
func (s *Service) Get(ctx context.Context, a *service.Actor, id int64) (View, error) {
	d, c, err := s.take(ctx, a, id)
	if err != nil {
		return View{}, err
	}
	vs, err := s.views(ctx, s.db, c, []model.Disclosure{d})
	if err != nil {
		return View{}, err
	}
	return vs[0], nil
}

// views completes versions of one compound with their lines, names and
// where they stand in their chains.
func (s *Service) views(ctx context.Context, db *gorm.DB, c model.Compound, ds []model.Disclosure) ([]View, error) {
	ids := make([]int64, 0, len(ds))
	var users, firms []int64
	for _, d := range ds {
		ids = append(ids, d.ID)
		users = append(users, d.PublishedBy, d.CountersignedBy)
		firms = append(firms, d.FirmID)
	}
	lines, err := model.DisclosureLinesOf(ctx, db, ids)
	if err != nil {
		return nil, err
	}
	names, err := model.UserNames(ctx, db, users)
	if err != nil {
		return nil, err
	}
	firmNames, err := model.NamesOf(ctx, db, &model.Firm{}, "name", firms)
	if err != nil {
		return nil, err
	}
	var sections, periods []string
	for _, d := range ds {
		if !slices.Contains(sections, d.Section) {
			sections = append(sections, d.Section)
		}
		if !slices.Contains(periods, d.Period) {
			periods = append(periods, d.Period)
		}
	}
	latest, err := model.LatestDisclosures(ctx, db, c.ID, sections, periods)
	if err != nil {
		return nil, err
	}
	out := make([]View, 0, len(ds))
	for _, d := range ds {
		l, ok := latest[d.Section+"\x00"+d.Period]
		if !ok {
			l = d
		}
		out = append(out, View{Disclosure: d, Lines: lines[d.ID], CompoundName: c.Name, FirmName: firmNames[d.FirmID],
			PublisherName: names[d.PublishedBy], SignerName: names[d.CountersignedBy],
			Current: l.ID == d.ID, LatestID: l.ID, LatestVersion: l.Version})
	}
	return out, nil
}

// Board is what a compound's board shows: the current version of each
// section (of revenue, the newest period), and what is not published yet.
type Board struct {
	Compound model.Compound
	Sections []View
	Missing  []string
}

// Board returns a compound's board to those who may read it.
func (s *Service) Board(ctx context.Context, a *service.Actor, compoundID int64) (Board, error) {
	c, err := s.compound(ctx, compoundID)
	if err != nil {
		return Board{}, err
	}
	if err := s.mayRead(ctx, a, c); err != nil {
		return Board{}, err
	}
	ds, err := model.CurrentDisclosures(ctx, s.db, c.ID)
	if err != nil {
		return Board{}, err
	}
	order := Sections()
	slices.SortStableFunc(ds, func(x, y model.Disclosure) int {
		return slices.Index(order, x.Section) - slices.Index(order, y.Section)
	})
	vs, err := s.views(ctx, s.db, c, ds)
	if err != nil {
		return Board{}, err
	}
	ids := make([]int64, 0, len(ds))
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	if err := s.markRead(ctx, a, ids...); err != nil {
		return Board{}, err
	}
	b := Board{Compound: c, Sections: vs, Missing: []string{}}
	for _, sec := range order {
		if !slices.ContainsFunc(ds, func(d model.Disclosure) bool { return d.Section == sec }) {
			b.Missing = append(b.Missing, sec)
		}
	}
	return b, nil
}

// ListFilter narrows a compound's versions: of one section and period,
// and with History the superseded ones too.
type ListFilter struct {
	Section string
	Period  string
	History bool
}

// List lists the versions of a compound's board, newest first.
func (s *Service) List(ctx context.Context, a *service.Actor, compoundID int64, f ListFilter, p service.Page) (service.Paged[View], error) {
	if f.Section != "" && !slices.Contains(Sections(), f.Section) {
		return service.Paged[View]{}, errSection
	}
	c, err := s.compound(ctx, compoundID)
	if err != nil {
		return service.Paged[View]{}, err
	}
	if err := s.mayRead(ctx, a, c); err != nil {
		return service.Paged[View]{}, err
	}
	res, err := model.DisclosuresPage(ctx, s.db, model.DisclosureFilter{CompoundID: c.ID, Section: f.Section,
		Period: strings.TrimSpace(f.Period), History: f.History}, p)
	if err != nil {
		return service.Paged[View]{}, err
	}
	vs, err := s.views(ctx, s.db, c, res.Items)
	return service.Paged[View]{Items: vs, More: res.More}, err
}

// Versions lists every version of the chain a version belongs to, oldest
// first: the history residents read.
func (s *Service) Versions(ctx context.Context, a *service.Actor, id int64) ([]View, error) {
	d, c, err := s.take(ctx, a, id)
	if err != nil {
		return nil, err
	}
	chain, err := model.DisclosureChain(ctx, s.db, c.ID, d.Section, d.Period)
	if err != nil {
		return nil, err
	}
	vs, err := s.views(ctx, s.db, c, chain)
	if err != nil || len(chain) == 0 {
		return vs, err
	}
	// The history shows the current version: a resident reading it has
	// read that version.
	return vs, s.markRead(ctx, a, chain[len(chain)-1].ID)
}

var (
	errNotRevenue  = service.Unprocessable("not_revenue", "只有公共收益报告需要会签")
	errSigned      = service.Conflict("already_countersigned", "该版本已会签")
	errSuperseded  = service.Conflict("superseded", "该版本已被更正，请会签最新版本")
	errSignNote    = service.Invalid("bad_note", "会签意见不能超过 200 个字")
	errOtherChain  = service.Unprocessable("not_same_section", "只能比较同一小区、同一栏目（同一期间）的两个版本")
	errCompareSelf = service.Invalid("same_version", "请选择两个不同的版本进行比较")
	errNoEarlier   = service.Unprocessable("no_earlier_version", "这是第一版，没有可比较的上一版本")
)

// Countersign records the committee's (or community's) countersignature
// of the current version of a revenue report.
func (s *Service) Countersign(ctx context.Context, a *service.Actor, id int64, note string) (View, error) {
	d, c, err := s.take(ctx, a, id)
	if err != nil {
		return View{}, err
	}
	if d.Section != model.DisclosureRevenue {
		return View{}, errNotRevenue
	}
	role, err := s.countersigner(ctx, a, c)
	if err != nil {
		return View{}, err
	}
	note = strings.TrimSpace(note)
	if len([]rune(note)) > 200 {
		return View{}, errSignNote
	}
	now := s.clock.Now().UTC()
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		n, err := model.Countersign(ctx, tx, d.ID, a.UserID, role, note, now)
		if err != nil || n == 1 {
			return err
		}
		cur, err := model.ByID[model.Disclosure](ctx, tx, d.ID)
		if err != nil {
			return err
		}
		if cur.CountersignedAt != nil {
			return errSigned
		}
		return errSuperseded
	})
	if err != nil {
		return View{}, err
	}
	return s.Get(ctx, a, id)
}

// Attachment returns an attachment of a line of a version to those who
// may read the version; anything else is 404.
func (s *Service) Attachment(ctx context.Context, a *service.Actor, id, photoID int64) (model.Photo, io.ReadCloser, error) {
	if _, _, err := s.take(ctx, a, id); err != nil {
		return model.Photo{}, nil, err
	}
	lines, err := model.DisclosureLinesOf(ctx, s.db, []int64{id})
	if err != nil {
		return model.Photo{}, nil, err
	}
	if !slices.ContainsFunc(lines[id], func(l model.DisclosureLine) bool { return slices.Contains(l.Attachments, photoID) }) {
		return model.Photo{}, nil, errAttachmentGone
	}
	p, err := model.ByID[model.Photo](ctx, s.db, photoID)
	if err != nil {
		return model.Photo{}, nil, service.OrNotFound(err, errAttachmentGone)
	}
	if s.store == nil {
		return model.Photo{}, nil, errAttachmentGone
	}
	rc, err := s.store.Open(ctx, p.Key)
	if err != nil {
		return model.Photo{}, nil, fmt.Errorf("disclosure %d attachment %d: %w", id, photoID, err)
	}
	return p, rc, nil
}

// Quote is what a household of an area pays under a fee version.
type Quote struct {
	AreaCentiM2 int64
	Lines       []QuoteLine
}

// QuoteLine is one fee standard applied to the area.
type QuoteLine struct {
	Label   string
	Rate    decimal.Decimal
	Monthly decimal.Decimal
	Yearly  decimal.Decimal
}

var errNotFees = service.Unprocessable("not_fees", "只有收费标准可以试算物业费")

// Quote applies the fee standards of a version to an area (m², two
// decimals), by the rounding rule of money.go.
func (s *Service) Quote(ctx context.Context, a *service.Actor, id int64, area string) (Quote, error) {
	centi, err := areaOf(strings.TrimSpace(area))
	if err != nil {
		return Quote{}, err
	}
	v, err := s.Get(ctx, a, id)
	if err != nil {
		return Quote{}, err
	}
	if v.Section != model.DisclosureFees {
		return Quote{}, errNotFees
	}
	q := Quote{AreaCentiM2: centi}
	for _, l := range v.Lines {
		if l.Kind != model.LineFee {
			continue
		}
		r := dec(l.Amount)
		q.Lines = append(q.Lines, QuoteLine{Label: l.Label, Rate: r, Monthly: MonthlyFee(centi, r), Yearly: YearlyFee(centi, r)})
	}
	return q, nil
}

// Open is Get for a reader of the board: a resident opening a version
// counts as its read on their household's receipt.
func (s *Service) Open(ctx context.Context, a *service.Actor, id int64) (View, error) {
	v, err := s.Get(ctx, a, id)
	if err != nil {
		return v, err
	}
	return v, s.markRead(ctx, a, id)
}
