package model

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Orders are read column by column into their fields, not through gorm's
// reflection: a page of a queue is 21 rows of 43 columns, and reflection
// was the larger part of a list's cost in the server. orderColumns and
// orderFields name the same columns in the same order; a test holds them
// to the Order struct, so a new field cannot be left out of either.
var orderColumns = []string{"id", "created_at", "updated_at", "number", "category_id", "category_code",
	"state", "level", "channel", "author_id", "resident_id", "household_id", "place", "description",
	"city_id", "district_id", "street_id", "community_id", "compound_id", "grid_id", "building_id",
	"handler_kind", "handler_id", "assignee_id", "duplicate_of",
	"step_started_at", "step_deadline", "paused_at", "pause_reason", "warned_at", "overdue", "breaches",
	"due_at", "version", "rating_overall", "rating_timely", "rating_attitude", "rating_comment",
	"completed_at", "confirmed_at", "closed_at", "idem_key", "intake_node"}

// orderColumnsOfO is the select list of orderColumns of orders AS o.
var orderColumnsOfO = "o." + strings.Join(orderColumns, ", o.")

// orderFields are o's fields in the order of orderColumns. The nullable
// ones are scanned through optTime and optString: database/sql fills a
// pointer field by reflection, and an order has nine.
func orderFields(o *Order) []any {
	return []any{&o.ID, &o.CreatedAt, &o.UpdatedAt, &o.Number, &o.CategoryID, &o.CategoryCode,
		&o.State, &o.Level, &o.Channel, &o.AuthorID, &o.ResidentID, &o.HouseholdID, &o.Place, &o.Description,
		&o.CityID, &o.DistrictID, &o.StreetID, &o.CommunityID, &o.CompoundID, &o.GridID, &o.BuildingID,
		&o.HandlerKind, &o.HandlerID, &o.AssigneeID, &o.DuplicateOf,
		optTime{&o.StepStartedAt}, optTime{&o.StepDeadline}, optTime{&o.PausedAt}, &o.PauseReason, optTime{&o.WarnedAt},
		&o.Overdue, &o.Breaches, optTime{&o.DueAt}, &o.Version, &o.RatingOverall, &o.RatingTimely, &o.RatingAttitude,
		&o.RatingComment, optTime{&o.CompletedAt}, optTime{&o.ConfirmedAt}, optTime{&o.ClosedAt}, optString{&o.IdemKey},
		&o.IntakeNode}
}

// optTime scans a nullable datetime into a *time.Time field.
type optTime struct{ p **time.Time }

func (o optTime) Scan(v any) error {
	switch t := v.(type) {
	case nil:
		*o.p = nil
	case time.Time:
		*o.p = &t
	default:
		var nt sql.NullTime
		if err := nt.Scan(v); err != nil {
			return err
		}
		*o.p = nil
		if nt.Valid {
			*o.p = &nt.Time
		}
	}
	return nil
}

// optString scans a nullable string into a *string field.
type optString struct{ p **string }

func (o optString) Scan(v any) error {
	switch s := v.(type) {
	case nil:
		*o.p = nil
	case []byte:
		str := string(s)
		*o.p = &str
	case string:
		*o.p = &s
	default:
		var ns sql.NullString
		if err := ns.Scan(v); err != nil {
			return err
		}
		*o.p = nil
		if ns.Valid {
			*o.p = &ns.String
		}
	}
	return nil
}

// eventColumns and eventFields are the same for timeline rows: an
// order's detail reads its whole timeline.
var eventColumns = []string{"id", "order_id", "action", "actor_id", "role", "from_state", "to_state",
	"from_level", "to_level", "handler_kind", "handler_id", "assignee_id", "note", "photos", "created_at"}

func eventFields(e *OrderEvent) []any {
	return []any{&e.ID, &e.OrderID, &e.Action, &e.ActorID, &e.Role, &e.FromState, &e.ToState,
		&e.FromLevel, &e.ToLevel, &e.HandlerKind, &e.HandlerID, &e.AssigneeID, &e.Note, &e.Photos, &e.CreatedAt}
}

// findEvents runs tx (a query of timeline rows whose select list is
// eventColumns) and reads its rows.
func findEvents(tx *gorm.DB) ([]OrderEvent, error) { return findRows(tx, eventFields) }

// findOrders runs tx (a query of orders whose select list is
// orderColumns) and reads its rows.
func findOrders(tx *gorm.DB) ([]Order, error) { return findRows(tx, orderFields) }

// findRows runs tx and reads each row into the fields of a new T.
func findRows[T any](tx *gorm.DB, fields func(*T) []any) ([]T, error) {
	rows, err := tx.Rows()
	if err != nil {
		return nil, Translate(err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		out = append(out, *new(T))
		if err := rows.Scan(fields(&out[len(out)-1])...); err != nil {
			return nil, Translate(err)
		}
	}
	return out, Translate(rows.Err())
}

// OrderByID loads an order (ErrNotFound when there is none).
func OrderByID(ctx context.Context, db *gorm.DB, id int64) (Order, error) {
	rows, err := findOrders(Prepared(db).WithContext(ctx).Model(&Order{}).Select(orderColumns).Where("id = ?", id))
	if err != nil {
		return Order{}, err
	}
	if len(rows) == 0 {
		return Order{}, ErrNotFound
	}
	return rows[0], nil
}
