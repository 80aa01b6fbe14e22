// Package inspection runs the supervision of property service: checklists
// (检查表) kept as versioned configuration by a city or a street, and the
// inspections (日查 / 月考 / 季评) community and street staff make of a
// firm's service in a compound, item by item, where a failed item can
// raise an order to the firm or an action item in the same step. The firm
// answers in writing. It must not import gin, net/http or api/.
package inspection

import (
	"context"
	"io"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/action"
	"redprop/service/order"
)

// Orders raises an order inside the inspection's transaction.
// *order.Service implements it.
type Orders interface {
	PrepareRaise(ctx context.Context, a *service.Actor, in order.RaiseInput) (*order.Raised, error)
}

// Actions raises an action item inside the inspection's transaction.
// *action.Service implements it.
type Actions interface {
	PrepareRaise(ctx context.Context, a *service.Actor, in action.CreateInput) (*action.Prepared, error)
}

// Photos opens a photo once this capability has decided the viewer may
// see it. *photo.Service implements it.
type Photos interface {
	OpenChecked(ctx context.Context, id int64) (model.Photo, io.ReadCloser, error)
}

// Service is the inspection capability.
type Service struct {
	db      *gorm.DB
	clock   service.Clock
	orders  Orders
	actions Actions
	photos  Photos
}

// New builds the service.
func New(db *gorm.DB, clock service.Clock, orders Orders, actions Actions, photos Photos) *Service {
	return &Service{db: db, clock: clock, orders: orders, actions: actions, photos: photos}
}

// Sections lists the checklist sections in sheet order.
var Sections = []string{model.SectionEnvironment, model.SectionSecurity, model.SectionFacilities,
	model.SectionGreenery, model.SectionFireSafety, model.SectionService, model.SectionParty}

var sectionNames = map[string]string{
	model.SectionEnvironment: "环境卫生", model.SectionSecurity: "秩序安防", model.SectionFacilities: "设施设备",
	model.SectionGreenery: "绿化养护", model.SectionFireSafety: "消防安全", model.SectionService: "服务态度",
	model.SectionParty: "党建引领",
}

// SectionName is the Chinese name of a section.
func SectionName(s string) string { return sectionNames[s] }

// Kinds lists the kinds of inspection.
var Kinds = []string{model.InspectionDaily, model.InspectionMonthly, model.InspectionQuarterly}

var kindNames = map[string]string{model.InspectionDaily: "日查", model.InspectionMonthly: "月考", model.InspectionQuarterly: "季评"}

// KindName is the Chinese name of a kind of inspection.
func KindName(k string) string { return kindNames[k] }

// sectionCategory is the order category a failed item of a section
// raises unless the inspector names one.
var sectionCategory = map[string]string{
	model.SectionEnvironment: "environment", model.SectionGreenery: "environment",
	model.SectionSecurity: "order_parking", model.SectionFacilities: "safety_hazard",
	model.SectionFireSafety: "safety_hazard", model.SectionService: "suggestion", model.SectionParty: "suggestion",
}
