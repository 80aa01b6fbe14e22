// Package model holds the gorm models of redprop and the queries on them.
// It decides nothing: rules live in service/. It must not import gin,
// net/http or any other package of the project but config-free helpers.
package model

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	mysqldriver "github.com/go-sql-driver/mysql"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
)

// Errors every query translates driver errors into. They are the only
// storage errors service/ ever tests: gorm's and the driver's own stop here.
var (
	ErrNotFound  = errors.New("record not found")
	ErrDuplicate = errors.New("duplicate key")
	// ErrDeadlock is MySQL's 1213: the transaction was rolled back whole
	// and may simply run again.
	ErrDeadlock = errors.New("deadlock")
)

// Translate maps gorm's and the driver's errors onto the package's own,
// keeping the cause for the logs. Errors of other kinds (a service error
// returned from a transaction's closure) pass through unchanged.
func Translate(err error) error {
	var me *mysqldriver.MySQLError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrDuplicate), errors.Is(err, ErrDeadlock):
		return err
	case errors.Is(err, gorm.ErrRecordNotFound):
		return ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return fmt.Errorf("%w: %v", ErrDuplicate, err)
	case errors.As(err, &me) && me.Number == 1213:
		return fmt.Errorf("%w: %v", ErrDeadlock, err)
	}
	return err
}

// Base is embedded by every table.
type Base struct {
	ID        int64     `gorm:"primaryKey" json:"id"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Engine names the SQL dialect a *gorm.DB speaks.
func Engine(db *gorm.DB) string { return db.Dialector.Name() }

// IsMySQL reports whether db is MySQL, MariaDB or TiDB.
func IsMySQL(db *gorm.DB) bool { return Engine(db) == "mysql" }

// Open connects to MySQL when dsn is set, otherwise to the SQLite file at
// sqlitePath (":memory:"-style URIs are passed through).
func Open(dsn, sqlitePath string, log logger.Interface) (*gorm.DB, error) {
	if log == nil {
		log = logger.Discard
	}
	gcfg := &gorm.Config{
		TranslateError: true,
		Logger:         log,
		NowFunc:        func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
	}
	if dsn != "" {
		dsn = mysqlDSN(dsn)
		if !strings.Contains(dsn, "isolation=") {
			level, err := readCommitted(dsn)
			if err != nil {
				return nil, fmt.Errorf("open mysql: %w", err)
			}
			dsn += "&" + level
		}
		db, err := gorm.Open(mysql.Open(dsn), gcfg)
		if err != nil {
			return nil, fmt.Errorf("open mysql: %w", err)
		}
		sqlDB, _ := db.DB()
		sqlDB.SetMaxOpenConns(50)
		sqlDB.SetMaxIdleConns(10)
		sqlDB.SetConnMaxLifetime(30 * time.Minute)
		return db, nil
	}
	if !strings.HasPrefix(sqlitePath, "file:") {
		if err := os.MkdirAll(filepath.Dir(sqlitePath), 0o755); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
	}
	sep := "?"
	if strings.Contains(sqlitePath, "?") {
		sep = "&"
	}
	uri := sqlitePath + sep + "_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_time_format=sqlite"
	db, err := gorm.Open(sqlite.Open(uri), gcfg)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	// SQLite has one writer; a single connection serialises transactions
	// instead of failing them with SQLITE_BUSY.
	sqlDB, _ := db.DB()
	sqlDB.SetMaxOpenConns(1)
	return db, nil
}

// mysqlDSN adds the options every connection needs: parsed UTC times and
// utf8mb4 (Chinese text and emoji in resident comments).
func mysqlDSN(dsn string) string {
	need := map[string]string{"parseTime": "true", "loc": "UTC", "charset": "utf8mb4"}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	for k, v := range need {
		if !strings.Contains(dsn, k+"=") {
			dsn += sep + k + "=" + v
			sep = "&"
		}
	}
	return dsn
}

// readCommitted returns the DSN parameter that makes every session of the
// server read committed data. Every write that must not be lost to a race
// is a compare-and-set or takes its row lock by primary key, so the
// default repeatable read adds nothing but gap and next-key locks on
// secondary indexes — and those deadlocked inserts into the outbox against
// updates of it by state or cancel key. MariaDB names the variable
// tx_isolation, MySQL 8 transaction_isolation (TiDB takes both).
func readCommitted(dsn string) (string, error) {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return "", err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return "", err
	}
	name := "transaction_isolation"
	if strings.Contains(strings.ToLower(version), "mariadb") {
		name = "tx_isolation"
	}
	return name + "=%27READ-COMMITTED%27", nil
}

// InTx runs fn in a transaction; an error or panic rolls back. The error
// comes back translated (ErrNotFound, ErrDuplicate, ErrDeadlock).
func InTx(ctx context.Context, db *gorm.DB, fn func(tx *gorm.DB) error) error {
	return Translate(db.WithContext(ctx).Transaction(fn))
}

// InTxRetry is InTx run again, up to attempts times in all, while MySQL
// picks it as a deadlock victim (a victim was rolled back whole). The last
// error is returned as it is, ErrDeadlock included.
func InTxRetry(ctx context.Context, db *gorm.DB, attempts int, fn func(tx *gorm.DB) error) error {
	var err error
	for i := 0; i < attempts; i++ {
		if err = InTx(ctx, db, fn); !errors.Is(err, ErrDeadlock) {
			return err
		}
	}
	return err
}

// ForUpdate locks the selected rows. The SQLite dialect drops the clause;
// there a single connection already serialises writers.
func ForUpdate(tx *gorm.DB) *gorm.DB {
	return tx.Clauses(clause.Locking{Strength: "UPDATE"})
}

// IsDeadlock reports whether err is MySQL's "deadlock found" (1213): the
// transaction was rolled back whole and may simply run again.
func IsDeadlock(err error) bool {
	return errors.Is(Translate(err), ErrDeadlock)
}

// ByIdemKey finds the row of T that owner (the column ownerCol) made with
// the Idempotency-Key key; found is false when there is none.
func ByIdemKey[T any](ctx context.Context, db *gorm.DB, ownerCol string, owner int64, key string) (row T, found bool, err error) {
	err = Translate(db.WithContext(ctx).Where(ownerCol+" = ? AND idem_key = ?", owner, key).Take(&row).Error)
	if errors.Is(err, ErrNotFound) {
		return row, false, nil
	}
	return row, err == nil, err
}

// nameBatch is the most ids one IN list of NamesOf carries.
const nameBatch = 500

// NamesOf reads id → column col of the table of table (a pointer to its
// model, e.g. &User{}) for ids, a batch of ids per query; ids of no row
// and ids ≤ 0 are left out.
func NamesOf(ctx context.Context, db *gorm.DB, table any, col string, ids []int64) (map[int64]string, error) {
	out := map[int64]string{}
	list := make([]int64, 0, len(ids))
	for _, id := range ids {
		if id > 0 {
			list = append(list, id)
		}
	}
	for start := 0; start < len(list); start += nameBatch {
		var rows []struct {
			ID   int64
			Name string
		}
		err := db.WithContext(ctx).Model(table).Select("id, "+col+" AS name").
			Where("id IN ?", list[start:min(start+nameBatch, len(list))]).Scan(&rows).Error
		if err != nil {
			return nil, fmt.Errorf("names from %T: %w", table, Translate(err))
		}
		for _, r := range rows {
			out[r.ID] = r.Name
		}
	}
	return out, nil
}
