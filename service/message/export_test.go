package message

import (
	"context"
	"time"

	"redprop/model"
)

// Test hooks: a crash between WeChat's answer and its record, and a view
// of every claim.

func SetAfterSend(s *Service, f func(row model.Outbox) (crash bool)) { s.afterSend = f }

func SetOnClaim(s *Service, f func(owner string, ids []int64)) { s.onClaim = f }

var ErrCrashed = errCrashed

// Render is the template of kind applied to ev as the worker would.
func Render(s *Service, kind string, ev Event, at time.Time) (map[string]string, string) {
	return s.cfg.Templates[kind].render(payload{Title: ev.Title, Body: ev.Body, Fields: ev.Fields, Page: ev.Page, At: at}, ev.OrderID)
}

// RenderOA is the service account's template of kind applied to ev as
// the worker would.
func RenderOA(s *Service, kind string, ev Event, at time.Time) (map[string]string, string) {
	return s.cfg.OATemplates[kind].render(payload{Title: ev.Title, Body: ev.Body, Fields: ev.Fields, Page: ev.Page, At: at},
		ev.OrderID, s.cfg.Templates[kind].Page)
}

// RenderValue fits v to WeChat's rules for the keyword type typ.
func RenderValue(typ, v string, at time.Time) string { return renderValue(typ, v, at) }

// ReleaseHeld is what Run does first: free the rows an earlier process of
// this instance held.
func ReleaseHeld(s *Service) (Stats, error) { return s.releaseHeld(context.Background()) }
