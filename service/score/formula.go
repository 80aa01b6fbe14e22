package score

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
)

// componentsOf are the components a formula of each kind may weigh.
var componentsOf = map[string][]string{
	model.ScoreKindFirm: {model.CompSatisfaction, model.CompOnTime, model.CompCompletion, model.CompResponse,
		model.CompRework, model.CompComplaints, model.CompInspections, model.CompRectification},
	model.ScoreKindGridWorker: {model.CompVerifyTime, model.CompPatrol, model.CompConfirmTime, model.CompCallAck,
		model.CompCallAckTime, model.CompRatings, model.CompRectFollowed},
}

// NewFormula is a version to add: its effective date (a Beijing date)
// and content.
type NewFormula struct {
	Kind          string
	EffectiveFrom string // YYYY-MM-DD
	Note          string
	Spec          model.FormulaSpec
}

func errFormula(msg string) error { return service.Invalid("bad_formula", msg) }

// validate checks a formula's content.
func validate(kind string, spec model.FormulaSpec) error {
	known := componentsOf[kind]
	if len(spec.Components) == 0 {
		return errFormula("计分公式至少要有一项指标")
	}
	seen := map[string]bool{}
	var weights int64
	for _, c := range spec.Components {
		if !slices.Contains(known, c.Name) {
			return errFormula(fmt.Sprintf("未知的考核指标 %q", c.Name))
		}
		if seen[c.Name] {
			return errFormula(fmt.Sprintf("考核指标 %q 重复", c.Name))
		}
		seen[c.Name] = true
		if c.Weight < 0 || c.Weight > 100 || c.MinSamples < 0 || c.MinSamples > 1000000 {
			return errFormula(fmt.Sprintf("指标 %q 的权重须在 0–100 之间，最少样本数不能为负", c.Name))
		}
		if c.Better != model.BetterHigher && c.Better != model.BetterLower {
			return errFormula(fmt.Sprintf("指标 %q 的方向只能是 higher 或 lower", c.Name))
		}
		if (c.Better == model.BetterHigher && c.Full < c.Zero) || (c.Better == model.BetterLower && c.Full > c.Zero) {
			return errFormula(fmt.Sprintf("指标 %q 的满分值与零分值方向不符", c.Name))
		}
		if c.Full < 0 || c.Zero < 0 || c.Full > 100000000 || c.Zero > 100000000 {
			return errFormula(fmt.Sprintf("指标 %q 的满分值、零分值超出范围", c.Name))
		}
		weights += c.Weight
	}
	if weights != 100 {
		return errFormula(fmt.Sprintf("各项指标权重之和须为 100（现为 %d）", weights))
	}
	if spec.Redistribute != model.RedistributeProportional && spec.Redistribute != model.RedistributeNone {
		return errFormula("样本不足指标的权重分配方式只能是 proportional 或 none")
	}
	if spec.RankMinSamples < 0 || spec.MinComponents < 0 || spec.MinComponents > len(spec.Components) {
		return errFormula("参与排名的最少样本数、最少有效指标数不正确")
	}
	if l := spec.List; l != nil {
		if l.Kind != "top_bottom" && l.Kind != "threshold" {
			return errFormula("红黑榜规则只能是 top_bottom 或 threshold")
		}
		if l.Group != model.LevelStreet && l.Group != model.LevelDistrict && l.Group != model.LevelCity {
			return errFormula("红黑榜分组只能是 street、district 或 city")
		}
		if (l.Kind == "top_bottom" && (l.N < 1 || l.N > 100)) ||
			(l.Kind == "threshold" && (l.RedMin <= l.BlackMax || l.RedMin > 10000 || l.BlackMax < 0)) {
			return errFormula("红黑榜的名额或分数线不正确")
		}
	}
	prev := int64(10001)
	lastStars := 6
	for _, b := range spec.Stars {
		if b.Stars < 1 || b.Stars > 5 || b.Stars >= lastStars || b.Min >= prev || b.Min < 0 {
			return errFormula("星级分档须从高到低排列，星级 1–5，分数线递减")
		}
		prev, lastStars = b.Min, b.Stars
	}
	return nil
}

// AddFormula adds the next version of a kind's formula; an old version is
// never changed.
func (s *Service) AddFormula(ctx context.Context, a *service.Actor, in NewFormula) (model.ScoreFormula, error) {
	if a == nil {
		return model.ScoreFormula{}, service.ErrUnauthenticated
	}
	if !a.Has(formulaRoles...) {
		return model.ScoreFormula{}, errFormForbid
	}
	if err := checkKind(in.Kind); err != nil {
		return model.ScoreFormula{}, err
	}
	day, err := time.ParseInLocation(time.DateOnly, in.EffectiveFrom, calendar.Beijing)
	if err != nil {
		return model.ScoreFormula{}, service.Invalid("bad_effective_from", "生效日期须为 YYYY-MM-DD")
	}
	if utf8.RuneCountInString(in.Note) > 200 {
		return model.ScoreFormula{}, errFormula("说明不能超过 200 个字")
	}
	if err := validate(in.Kind, in.Spec); err != nil {
		return model.ScoreFormula{}, err
	}
	f := model.ScoreFormula{Kind: in.Kind, EffectiveFrom: day.UTC(), Note: in.Note, Spec: in.Spec, CreatedBy: a.UserID,
		CreatedAt: s.clock.Now().UTC()}
	err = model.InTxRetry(ctx, s.db, 3, func(tx *gorm.DB) error { return model.AddFormula(ctx, tx, &f) })
	if errors.Is(err, model.ErrDuplicate) {
		return f, service.Conflict("formula_conflict", "另一版本计分公式刚刚新增，请刷新后重试")
	}
	return f, err
}

// Formulas lists a kind's versions, newest first. Anyone who may see
// scores may read the formulas they were computed with.
func (s *Service) Formulas(ctx context.Context, a *service.Actor, kind string) ([]model.ScoreFormula, error) {
	if a == nil {
		return nil, service.ErrUnauthenticated
	}
	if err := checkKind(kind); err != nil {
		return nil, err
	}
	return model.Formulas(ctx, s.db, kind)
}
