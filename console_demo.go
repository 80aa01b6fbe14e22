package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"gorm.io/gorm"

	"redprop/api"
	"redprop/model"
	"redprop/service"
	"redprop/service/demo"
	"redprop/service/order"
	"redprop/service/wechat"
)

// consoleDemo makes the demo city's residents act for the sandbox console,
// through the services their mini-program calls: a resident reports and
// the grid worker verifies (the dispatcher's queue fills), a registered
// vulnerable resident raises a one-key call.
type consoleDemo struct {
	db    *gorm.DB
	order *order.Service
	n     atomic.Int64
}

var _ api.ConsoleDemo = (*consoleDemo)(nil)

// person is a demo person as the auth middleware would load them.
func (d *consoleDemo) person(ctx context.Context, name string) (*service.Actor, error) {
	u, err := model.UserByOpenID(ctx, d.db, wechat.SandboxOpenID(name))
	if err != nil {
		return nil, fmt.Errorf("demo person %s: %w", name, err)
	}
	gs, err := model.LiveGrants(ctx, d.db, u.ID)
	if err != nil {
		return nil, err
	}
	return &service.Actor{UserID: u.ID, Grants: gs}, nil
}

// Report has the demo resident report a matter and the grid worker verify it.
func (d *consoleDemo) Report(ctx context.Context) (order.View, error) {
	resident, err := d.person(ctx, "resident")
	if err != nil {
		return order.View{}, err
	}
	grid, err := d.person(ctx, "grid")
	if err != nil {
		return order.View{}, err
	}
	code, text, place := demo.ReportOf(int(d.n.Add(1) - 1))
	cats, err := d.order.Categories(ctx, resident, false)
	if err != nil {
		return order.View{}, err
	}
	var catID int64
	for _, c := range cats {
		if c.Code == code {
			catID = c.ID
		}
	}
	homes, err := model.HomesOf(ctx, d.db, resident.UserID)
	if err != nil || len(homes) == 0 {
		return order.View{}, errors.Join(errors.New("the demo resident has no household"), err)
	}
	v, _, err := d.order.Submit(ctx, resident, order.SubmitInput{CategoryID: catID, Description: text, Place: place,
		HouseholdID: homes[0].HouseholdID})
	if err != nil {
		return v, err
	}
	return d.order.Act(ctx, grid, v.ID, order.ActVerify, order.Input{Note: "已到现场核实，情况属实"})
}

// Call has the demo resident, registered as living alone by the grid
// worker on first use, press the one-key call.
func (d *consoleDemo) Call(ctx context.Context) (order.CallView, error) {
	resident, err := d.person(ctx, "resident")
	if err != nil {
		return order.CallView{}, err
	}
	targets, err := d.order.CallTargets(ctx, resident)
	if err != nil {
		return order.CallView{}, err
	}
	if len(targets) == 0 {
		grid, err := d.person(ctx, "grid")
		if err != nil {
			return order.CallView{}, err
		}
		homes, err := model.HomesOf(ctx, d.db, resident.UserID)
		if err != nil || len(homes) == 0 {
			return order.CallView{}, errors.Join(errors.New("the demo resident has no household"), err)
		}
		if _, err := d.order.RegisterVulnerable(ctx, grid, order.VulnerableInput{UserID: resident.UserID,
			HouseholdID: homes[0].HouseholdID, Name: "杨阿姨", Kind: "elderly_alone", Note: "独居老人，患高血压"}); err != nil {
			return order.CallView{}, err
		}
	}
	v, _, err := d.order.Call(ctx, resident, order.CallInput{Note: "突然头晕，站不起来"})
	return v, err
}

// consoleOptions are the console's settings and, in the sandbox, its
// demo logins and demo residents.
func (a *app) consoleOptions(ctx context.Context, wx api.WxaCoder) (api.ConsoleOptions, error) {
	opts := api.ConsoleOptions{Sandbox: a.cfg.Sandbox(), SecureCookies: a.cfg.Production(), WxaPage: a.cfg.ConsoleWxaPage, Codes: wx}
	if !opts.Sandbox {
		return opts, nil
	}
	people, err := demo.ConsolePeople(ctx, a.db)
	if err != nil {
		return opts, err
	}
	for _, p := range people {
		opts.Demo = append(opts.Demo, api.ConsoleDemoPerson{Code: demo.Code(p.Name), Name: p.DisplayName, About: p.About})
	}
	if len(people) > 0 {
		opts.DemoActs = &consoleDemo{db: a.db, order: a.order}
	}
	return opts, nil
}
