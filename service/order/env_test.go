package order

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"testing"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
	"redprop/service/message"
	"redprop/service/photo"
	"redprop/service/servicetest"
	"redprop/service/wechat"
)

// loopEnv is the order service over the shared demo city (with the
// default categories seeded), with real photo, calendar and message
// services and the harness's fake clock.
type loopEnv struct {
	*servicetest.City
	svc    *Service
	photos *photo.Service
	cats   map[string]model.Category

	// The short names the tests of this package were written with; they
	// are the harness's own values.
	t     *testing.T
	ctx   context.Context
	db    *gorm.DB
	clock *service.FakeClock
	city  *servicetest.City
}

func newLoopEnv(t *testing.T) *loopEnv {
	t.Helper()
	c := servicetest.New(t, SeedCategories)
	photos := photo.New(c.DB, photo.NewLocalStorage(t.TempDir()), c.Clock, 1<<20, 0)
	msgs, err := message.New(c.DB, c.Clock, wechat.NewSandbox(), message.Config{Sandbox: true})
	if err != nil {
		t.Fatal(err)
	}
	svc := New(c.DB, c.Clock, calendar.New(c.DB, c.Clock), photos, msgs, Options{})
	e := &loopEnv{City: c, svc: svc, photos: photos, cats: map[string]model.Category{},
		t: t, ctx: c.Ctx, db: c.DB, clock: c.Clock, city: c}
	cats, err := model.Categories(c.Ctx, c.DB, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, cat := range cats {
		e.cats[cat.Code] = cat
	}
	return e
}

// actor is a demo person with their live grants, as the auth middleware
// loads them.
func (e *loopEnv) actor(name string) *service.Actor { return e.Actor(name) }

// grant gives a demo person one more grant.
func (e *loopEnv) grant(name, role, kind string, scopeID int64, anc model.Ancestry) {
	e.Grant(name, role, kind, scopeID, anc)
}

// photo stores an uploaded photo of the person directly.
func (e *loopEnv) photo(name string) int64 { return e.Photo(name) }

// submit files an order for the resident in their household (0 of the
// demo city), failing the test on error.
func (e *loopEnv) submit(name, code string, mod ...func(*SubmitInput)) View {
	e.t.Helper()
	in := SubmitInput{CategoryID: e.cats[code].ID, Description: "厨房水管漏水，请尽快处理", HouseholdID: e.Households[0].ID}
	for _, m := range mod {
		m(&in)
	}
	v, _, err := e.svc.Submit(e.ctx, e.actor(name), in)
	if err != nil {
		e.t.Fatalf("submit %s by %s: %v", code, name, err)
	}
	return v
}

// act takes an action, failing the test on error.
func (e *loopEnv) act(name string, id int64, action string, in Input) View {
	e.t.Helper()
	v, err := e.svc.Act(e.ctx, e.actor(name), id, action, in)
	if err != nil {
		e.t.Fatalf("%s by %s on %d: %v", action, name, id, err)
	}
	return v
}

func (e *loopEnv) load(id int64) model.Order {
	e.t.Helper()
	o, err := model.ByID[model.Order](e.ctx, e.db, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return o
}

func (e *loopEnv) events(id int64) []model.OrderEvent {
	e.t.Helper()
	evs, err := model.OrderEventsOf(e.ctx, e.db, []int64{id})
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

// messages returns the inbox events of a demo user about an order.
func (e *loopEnv) messages(name string, orderID int64) []model.Message {
	e.t.Helper()
	var ms []model.Message
	if err := e.db.Where("user_id = ? AND order_id = ?", e.UserID(name), orderID).Order("id").Find(&ms).Error; err != nil {
		e.t.Fatal(err)
	}
	return ms
}

func wantKind(t *testing.T, err error, kind service.Kind, code string) {
	t.Helper()
	servicetest.WantErr(t, err, kind, code)
}

// upload stores a real JPEG of the person through the photo service, bytes
// and all, and returns its id.
func (e *loopEnv) upload(name string) int64 {
	e.t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 2, 2)), nil); err != nil {
		e.t.Fatal(err)
	}
	p, err := e.photos.Upload(e.ctx, e.actor(name), "a.jpg", "image/jpeg", buf.Bytes())
	if err != nil {
		e.t.Fatal(err)
	}
	return p.ID
}
