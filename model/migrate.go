package model

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// SchemaVersion records each migration step applied to a database.
type SchemaVersion struct {
	Version   int       `gorm:"primaryKey;autoIncrement:false"`
	Name      string    `gorm:"size:100"`
	AppliedAt time.Time `gorm:"not null"`
}

// Tables lists every model, in creation order.
func Tables() []any {
	tables := []any{
		&SchemaVersion{},
		&Region{}, &Compound{}, &Grid{}, &Building{}, &Household{},
		&Firm{}, &Contract{}, &Committee{}, &Department{},
		&User{}, &Residency{}, &ResidencyApplication{},
		&Grant{}, &Invitation{}, &Redemption{},
		&Category{}, &Order{}, &OrderEvent{}, &OrderCounter{}, &Message{},
		&CalendarDay{}, &Photo{},
		&Vulnerable{}, &EmergencyCall{},
		&Outbox{}, &SubscribeQuota{}, &SandboxPush{}, &ContentCheck{}, &CallbackReceipt{},
		&PushPreference{}, &OAFollower{},
		&ActionItem{}, &ActionItemEvent{},
		&Meeting{}, &MeetingGroup{}, &MeetingParticipant{}, &MeetingMinutes{},
		&Vote{}, &VoteRoll{}, &Ballot{}, &Wish{},
		&AuthSession{}, &RefreshToken{},
		&Checklist{}, &ChecklistVersion{}, &ChecklistItem{}, &Inspection{}, &InspectionItem{}, &Rectification{},
		&ScoreFormula{}, &Score{}, &ScoreComponent{}, &ScoreRun{},
		&Ranking{}, &RankingLine{}, &Appeal{}, &AppealEvent{}, &RankingFlag{},
		&Disclosure{}, &DisclosureLine{},
		&Receipt{}, &ReceiptTally{}, &Notice{},
		&DashRollup{}, &DashWatermark{}, &ExportJob{}, &ExportChunk{},
		&ConsoleTicket{}, &ConsoleSession{}, &AuthChange{},
	}
	return append(tables, extraTables...)
}

// extraTables is extended by the files of later capabilities (orders,
// messages …) through their init-free registration in Tables' callers.
var extraTables []any

// step is one versioned schema change. AutoMigrate brings tables and
// columns up to the structs; steps add what it cannot express (composite
// unique indexes across embedded fields, data fixes).
type step struct {
	version int
	name    string
	run     func(tx *gorm.DB) error
}

var steps = []step{
	{1, "composite unique indexes of the org tree", func(tx *gorm.DB) error {
		if err := createIndex(tx, &Building{}, "buildings", "ux_building_name", "compound_id, name"); err != nil {
			return err
		}
		return createIndex(tx, &Household{}, "households", "ux_household_room", "building_id, unit, room")
	}},
	{2, "working-day calendar 2026", func(tx *gorm.DB) error {
		return SeedCalendar(tx.Statement.Context, tx)
	}},
	{3, "one committee per compound", func(tx *gorm.DB) error {
		// city_id adds nothing (a compound lies in one city) but keeps the
		// index composite: AutoMigrate drops a single-column unique index
		// that the struct does not declare, on MySQL at the next start.
		return createIndex(tx, &Committee{}, "committees", "ux_committee_compound", "compound_id, city_id")
	}},
	{4, "outbox rows found by WeChat's msgid", func(tx *gorm.DB) error {
		// AutoMigrate added the column; the delivery event looks rows up by it.
		if tx.Migrator().HasIndex(&Outbox{}, "ix_outbox_msg_id") {
			return nil
		}
		return tx.Exec("CREATE INDEX ix_outbox_msg_id ON outboxes (msg_id)").Error
	}},
	{5, "queues read by index in id order", func(tx *gorm.DB) error {
		// ListOrders splits a queue into parts of equalities, each read
		// newest first: with the id InnoDB appends to every secondary
		// index, these serve each part in id order without a filesort.
		for _, ix := range orderQueueIndexes {
			if tx.Migrator().HasIndex(&Order{}, ix[0]) {
				continue
			}
			if err := tx.Exec(fmt.Sprintf("CREATE INDEX %s ON orders (%s)", ix[0], ix[1])).Error; err != nil {
				return err
			}
		}
		// A user's unread messages, newest first, without reading the
		// read ones of past years.
		if tx.Migrator().HasIndex(&Message{}, "ix_message_unread") {
			return nil
		}
		return tx.Exec("CREATE INDEX ix_message_unread ON messages (user_id, read_at)").Error
	}},
	{10, "default inspection checklist", func(tx *gorm.DB) error {
		return SeedDefaultChecklist(tx.Statement.Context, tx)
	}},
	{20, "default score formulas and the scoring job's indexes", func(tx *gorm.DB) error {
		for _, ix := range scoreIndexes {
			if tx.Migrator().HasIndex(ix.table, ix.name) {
				continue
			}
			if err := tx.Exec(fmt.Sprintf("CREATE INDEX %s ON %s (%s)", ix.name, ix.table, ix.cols)).Error; err != nil {
				return err
			}
		}
		return SeedFormulas(tx.Statement.Context, tx)
	}},
	{40, "one number per disclosure version", disclosureIndex},
	{50, "households not reached by building and unit", func(tx *gorm.DB) error {
		// One building's (and unit's) receipts not reached, in id order:
		// the steward's list of doors to knock on.
		if tx.Migrator().HasIndex(&Receipt{}, "ix_receipt_open_building") {
			return nil
		}
		return tx.Exec("CREATE INDEX ix_receipt_open_building ON receipts (subject_kind, subject_id, building_id, unit, reached)").Error
	}},
	{51, "receipt counters per unit", func(tx *gorm.DB) error {
		// The counters' key gained the unit (ux_receipt_tally_unit, made by
		// AutoMigrate); a database made before keeps the key without it,
		// which would refuse a building's second unit.
		if !tx.Migrator().HasIndex(&ReceiptTally{}, "ux_receipt_tally") {
			return nil
		}
		return tx.Migrator().DropIndex(&ReceiptTally{}, "ux_receipt_tally")
	}},
	{60, "the outbox claimed by priority and due time", func(tx *gorm.DB) error {
		// ClaimOutbox reads each state's urgent rows, then its routine
		// ones in due order, as ranges of this index that stop at a batch.
		if tx.Migrator().HasIndex(&Outbox{}, "ix_outbox_claim") {
			return nil
		}
		return tx.Exec("CREATE INDEX ix_outbox_claim ON outboxes (state, priority DESC, due_at)").Error
	}},
	{61, "action items read by index in id order", func(tx *gorm.DB) error {
		// ActionItemPage splits a reader's reach into parts of a place or
		// an owner with one state, each served newest first by one of these.
		for _, ix := range actionIndexes {
			if tx.Migrator().HasIndex(&ActionItem{}, ix[0]) {
				continue
			}
			if err := tx.Exec(fmt.Sprintf("CREATE INDEX %s ON action_items (%s)", ix[0], ix[1])).Error; err != nil {
				return err
			}
		}
		return nil
	}},
	{62, "the scheduler's warnings read in deadline order", func(tx *gorm.DB) error {
		// WarnableOrders reads the unwarned running steps of the horizon
		// in deadline order, a page at a time; by ix_order_deadline it
		// read the warned ones too and sorted them all for every page.
		if tx.Migrator().HasIndex(&Order{}, "ix_order_warn") {
			return nil
		}
		return tx.Exec("CREATE INDEX ix_order_warn ON orders (overdue, warned_at, step_deadline)").Error
	}},
	{63, "users who reported for others", func(tx *gorm.DB) error {
		// A person's own orders are one index range (their resident_id)
		// unless they submitted one for someone else; mark those who did.
		return tx.Exec(`UPDATE users SET reported_for_others = ? WHERE id IN
			(SELECT author_id FROM orders WHERE author_id <> 0 AND author_id <> resident_id)`, true).Error
	}},
	{64, "a grid's orders by state; order indexes the composite ones made redundant", func(tx *gorm.DB) error {
		// A grid worker's to_verify and to_confirm are one part per
		// state on (grid_id, state), whatever level the order is at.
		if !tx.Migrator().HasIndex(&Order{}, "ix_order_grid_state") {
			if err := tx.Exec("CREATE INDEX ix_order_grid_state ON orders (grid_id, state)").Error; err != nil {
				return err
			}
		}
		// Each of these leads a composite index that serves its lookups
		// (state: ix_order_deadline, level: ix_order_level_queue, overdue:
		// ix_order_warn) or is read by none (step_deadline alone); every
		// order written paid for keeping them.
		for _, ix := range redundantOrderIndexes {
			if tx.Migrator().HasIndex(&Order{}, ix) {
				if err := tx.Migrator().DropIndex(&Order{}, ix); err != nil {
					return err
				}
			}
		}
		return nil
	}},
	{65, "the holders of a seat by role and scope", func(tx *gorm.DB) error {
		// Every order move finds who fills a seat (the grid's workers,
		// the community's staff, the handler's managers): by the role
		// index alone that read every grant of the role, thousands in a
		// city, for each order written.
		if tx.Migrator().HasIndex(&Grant{}, "ix_grant_seat") {
			return nil
		}
		return tx.Exec("CREATE INDEX ix_grant_seat ON grants (role, scope_kind, scope_id)").Error
	}},
	{66, "a dispatcher's queue as one range", func(tx *gorm.DB) error {
		// to_dispatch was a union of two parts (submitted, verified) on the
		// level's queue index; intake_node names the desk an order waits at.
		// Only open orders are touched, by ix_order_deadline's state.
		err := tx.Exec(`UPDATE orders SET intake_node = CASE level
			WHEN ? THEN community_id WHEN ? THEN street_id WHEN ? THEN city_id ELSE 0 END
			WHERE state IN ?`, OrderLevelCommunity, OrderLevelStreet, OrderLevelCity, intakeStates).Error
		if err != nil {
			return err
		}
		if tx.Migrator().HasIndex(&Order{}, "ix_order_intake") {
			return nil
		}
		return tx.Exec("CREATE INDEX ix_order_intake ON orders (level, intake_node)").Error
	}},
}

// redundantOrderIndexes are the single-column indexes of orders migration
// 64 drops.
var redundantOrderIndexes = []string{"idx_orders_state", "idx_orders_level", "idx_orders_overdue", "idx_orders_step_deadline"}

// actionIndexes are the indexes of migration 61 by name and columns.
var actionIndexes = [][2]string{
	{"ix_action_city_state", "city_id, state"},
	{"ix_action_district_state", "district_id, state"},
	{"ix_action_street_state", "street_id, state"},
	{"ix_action_community_state", "community_id, state"},
	{"ix_action_compound_state", "compound_id, state"},
	{"ix_action_owner_state", "owner_kind, owner_id, state"},
}

// orderQueueIndexes are the composite indexes of migration 5, by name and
// columns: one per part of the tree (with level and state, for the
// dispatchers' and grid workers' queues), one for the whole city at a
// level, one per handler, one per firm worker, and one for the
// scheduler's deadline scans.
var orderQueueIndexes = [][2]string{
	{"ix_order_city_queue", "city_id, level, state"},
	{"ix_order_district_queue", "district_id, level, state"},
	{"ix_order_street_queue", "street_id, level, state"},
	{"ix_order_community_queue", "community_id, level, state"},
	{"ix_order_compound_queue", "compound_id, level, state"},
	{"ix_order_grid_queue", "grid_id, level, state"},
	{"ix_order_building_queue", "building_id, level, state"},
	{"ix_order_level_queue", "level, state"},
	{"ix_order_handler_queue", "handler_kind, handler_id, state"},
	{"ix_order_assignee_queue", "assignee_id, state"},
	// The scheduler's scan of running steps past their deadline
	// (DueOrders): per open state, the deadlines in range, not the closed
	// history. Warnings have their own index (migration 62).
	{"ix_order_deadline", "state, overdue, step_deadline"},
}

// MigratedAt is when step version was applied to db (the zero time when
// it was not).
func MigratedAt(ctx context.Context, db *gorm.DB, version int) (time.Time, error) {
	var v SchemaVersion
	err := db.WithContext(ctx).Where("version = ?", version).Take(&v).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return time.Time{}, nil
	}
	return v.AppliedAt, Translate(err)
}

// ReconcileVersion is the step from which pushes keep WeChat's msgid and
// delivery events settle unknown pushes.
const ReconcileVersion = 4

func createIndex(tx *gorm.DB, model any, table, name, cols string) error {
	if tx.Migrator().HasIndex(model, name) {
		return nil
	}
	return tx.Exec(fmt.Sprintf("CREATE UNIQUE INDEX %s ON %s (%s)", name, table, cols)).Error
}

// LatestVersion is the version a fully migrated database records.
func LatestVersion() int { return steps[len(steps)-1].version }

// StepCount is how many steps a fully migrated database records (the
// versions of capabilities leave gaps between their ranges).
func StepCount() int { return len(steps) }

// Migrate brings the schema up to date. It is idempotent: run it on every
// start and as often as you like.
func Migrate(ctx context.Context, db *gorm.DB) (int, error) {
	// A migration may rightly outlast the query deadline (an ALTER of a big
	// table); it runs before the server takes requests.
	ctx = WithoutDeadline(ctx)
	db = db.WithContext(ctx)
	// The option lives on a statement of its own: a db.Set statement is
	// shared by what is chained on it, and would carry the version query's
	// Select into the inserts below.
	mig := db
	if IsMySQL(db) {
		// Tables name their charset rather than inherit the database's: a
		// database created with the server default (latin1 on many
		// installs) would otherwise refuse every Chinese name with
		// error 1366.
		mig = db.Set("gorm:table_options", mysqlTableOptions)
	}
	if err := mig.AutoMigrate(Tables()...); err != nil {
		return 0, fmt.Errorf("auto-migrate: %w", err)
	}
	if IsMySQL(db) {
		if err := checkCharset(db); err != nil {
			return 0, err
		}
	}
	// Each step is applied once, by its own version: capabilities number
	// their steps in ranges, so a database that has a later range may
	// still lack a step of an earlier one.
	var applied []int
	if err := db.Model(&SchemaVersion{}).Pluck("version", &applied).Error; err != nil {
		return 0, fmt.Errorf("read schema versions: %w", err)
	}
	done := map[int]bool{}
	current := 0
	for _, v := range applied {
		done[v] = true
		current = max(current, v)
	}
	for _, s := range steps {
		if done[s.version] {
			continue
		}
		if err := s.run(db); err != nil {
			return current, fmt.Errorf("migration %d (%s): %w", s.version, s.name, err)
		}
		if err := db.Create(&SchemaVersion{Version: s.version, Name: s.name, AppliedAt: time.Now().UTC()}).Error; err != nil {
			return current, fmt.Errorf("record migration %d: %w", s.version, err)
		}
		current = max(current, s.version)
	}
	return current, nil
}

// mysqlTableOptions create every table as utf8mb4 (Chinese text and emoji).
const mysqlTableOptions = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"

// checkCharset refuses tables whose charset cannot hold Chinese text:
// ones created by an earlier run into a latin1 database keep their
// charset, and AutoMigrate does not convert them. utf8 (utf8mb3) tables of
// earlier installs hold Chinese and pass; only emoji need utf8mb4 there.
func checkCharset(db *gorm.DB) error {
	var bad []string
	err := db.Raw(`SELECT table_name FROM information_schema.tables
		WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' AND table_collation NOT LIKE 'utf8%'
		ORDER BY table_name`).Scan(&bad).Error
	if err != nil {
		return fmt.Errorf("read table charsets: %w", err)
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("tables %s are in a charset that cannot hold Chinese text: convert each with "+
		"ALTER TABLE <name> CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci, or drop the database and "+
		"create it with CREATE DATABASE <name> CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci", strings.Join(bad, ", "))
}

// IsEmpty reports whether the database holds no org tree and no users yet.
func IsEmpty(ctx context.Context, db *gorm.DB) (bool, error) {
	for _, m := range []any{&Region{}, &User{}} {
		var n int64
		if err := db.WithContext(ctx).Model(m).Limit(1).Count(&n).Error; err != nil {
			return false, err
		}
		if n > 0 {
			return false, nil
		}
	}
	return true, nil
}
