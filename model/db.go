// Package model holds the gorm models of redprop and the queries on them.
// It decides nothing: rules live in service/. It must not import gin,
// net/http or any other package of the project but config-free helpers.
package model

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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
	// ErrUnavailable is a database that did not answer: refused or lost
	// connections, a query or transaction past its deadline, a pool with no
	// free connection in time, SQLite locked beyond its busy timeout. It is
	// an outage, never the caller's fault; a caller's own cancellation
	// (context.Canceled) is not one and is left as it is.
	ErrUnavailable = errors.New("database unavailable")
)

// Translate maps gorm's and the driver's errors onto the package's own,
// keeping the cause for the logs. Errors of other kinds (a service error
// returned from a transaction's closure) pass through unchanged.
func Translate(err error) error {
	var me *mysqldriver.MySQLError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrDuplicate), errors.Is(err, ErrDeadlock), errors.Is(err, ErrUnavailable):
		return err
	case unavailable(err):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	case errors.Is(err, gorm.ErrRecordNotFound):
		return ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return fmt.Errorf("%w: %v", ErrDuplicate, err)
	case errors.As(err, &me) && me.Number == 1213:
		return fmt.Errorf("%w: %v", ErrDeadlock, err)
	}
	return err
}

// unavailable reports whether err says the database could not be reached
// or did not answer in time. A cancellation by the caller is not an
// outage, even when the driver words it as a broken connection.
func unavailable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var me *mysqldriver.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1040, // too many connections
			1053, // server shutdown in progress
			1927: // MariaDB: connection was killed
			return true
		}
		return false
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, mysqldriver.ErrInvalidConn),
		errors.Is(err, sql.ErrConnDone), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.As(err, &ne):
		return true
	}
	// SQLite past its busy timeout: another process holds the file.
	return strings.Contains(err.Error(), "database is locked")
}

// Deadlines bound the time a query and a transaction may take, so that a
// database that stops answering (a frozen process, a network partition)
// gives quick ErrUnavailable answers and a bounded number of goroutines
// and connections instead of requests that hang for the whole stall.
// database/sql waits for a free pool connection under the same context,
// so the query deadline also bounds that wait.
type Deadlines struct {
	// Query bounds each statement (and its wait for a connection); a
	// caller's context with an earlier deadline keeps its own.
	Query time.Duration
	// Tx bounds a whole transaction of InTx, from BEGIN to COMMIT.
	Tx time.Duration
	// MaxOpen and MaxIdle size the MySQL pool (SQLite keeps its single
	// connection); 0 keeps the default of 50 each. An idle size below the
	// open size closes connections after every burst and reopens them on
	// the next.
	MaxOpen, MaxIdle int
}

// DefaultDeadlines are what Open uses.
var DefaultDeadlines = Deadlines{Query: 5 * time.Second, Tx: 15 * time.Second, MaxOpen: 50, MaxIdle: 50}

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
// sqlitePath (":memory:"-style URIs are passed through), with the
// DefaultDeadlines.
func Open(dsn, sqlitePath string, log logger.Interface) (*gorm.DB, error) {
	return OpenWith(dsn, sqlitePath, log, DefaultDeadlines)
}

// OrDefault puts d in *v when *v is not positive: a setting left unset
// (zero) or nonsensical takes its default.
func OrDefault[T int | int64 | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// OpenWith is Open with the given deadlines; a zero field keeps its
// default.
func OpenWith(dsn, sqlitePath string, log logger.Interface, d Deadlines) (*gorm.DB, error) {
	OrDefault(&d.Query, DefaultDeadlines.Query)
	OrDefault(&d.Tx, DefaultDeadlines.Tx)
	OrDefault(&d.MaxOpen, DefaultDeadlines.MaxOpen)
	OrDefault(&d.MaxIdle, DefaultDeadlines.MaxIdle)
	db, err := open(dsn, sqlitePath, log, d)
	if err != nil {
		return nil, err
	}
	if err := db.Use(&deadlinePlugin{d: d}); err != nil {
		closeDB(db)
		return nil, fmt.Errorf("query deadlines: %w", err)
	}
	return db, nil
}

func closeDB(db *gorm.DB) {
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.Close()
	}
}

func open(dsn, sqlitePath string, log logger.Interface, d Deadlines) (*gorm.DB, error) {
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
		mcfg, err := mysqldriver.ParseDSN(dsn)
		if err != nil {
			return nil, fmt.Errorf("open mysql: %w", err)
		}
		conn, err := mysqldriver.NewConnector(mcfg)
		if err != nil {
			return nil, fmt.Errorf("open mysql: %w", err)
		}
		pool := sql.OpenDB(boundedConnector{conn, d.Query})
		db, err := gorm.Open(mysql.New(mysql.Config{Conn: pool, DSN: dsn}), gcfg)
		if err != nil {
			pool.Close()
			return nil, fmt.Errorf("open mysql: %w", err)
		}
		sqlDB, _ := db.DB()
		sqlDB.SetMaxOpenConns(d.MaxOpen)
		sqlDB.SetMaxIdleConns(d.MaxIdle)
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

// boundedConnector bounds each new connection's dial and handshake.
// database/sql opens some connections in the background, under a context
// that never ends (to serve requests queued for the pool); against a
// frozen server each would hang in the handshake for the whole stall,
// holding a pool slot, a socket and goroutines.
type boundedConnector struct {
	driver.Connector
	within time.Duration
}

func (c boundedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.within)
	defer cancel()
	return c.Connector.Connect(ctx)
}

// mysqlDSN adds the options every connection needs: parsed UTC times and
// utf8mb4 (Chinese text and emoji in resident comments).
func mysqlDSN(dsn string) string {
	// timeout bounds the dial of a new connection: a host that drops
	// packets would otherwise hold a pool slot for the OS's own minutes.
	need := map[string]string{"parseTime": "true", "loc": "UTC", "charset": "utf8mb4", "timeout": "5s"}
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
	// interpolateParams sends each statement with its parameters in one
	// round trip instead of prepare + execute + close (three); the driver
	// escapes them itself, which is safe for utf8mb4 but not for the
	// multibyte charsets whose second byte may be a backslash (the driver
	// refuses those).
	if !strings.Contains(dsn, "interpolateParams=") && !unsafeInterpolation(dsn) {
		dsn += sep + "interpolateParams=true"
	}
	return dsn
}

// unsafeInterpolation reports whether dsn names a charset the driver will
// not interpolate parameters for.
func unsafeInterpolation(dsn string) bool {
	low := strings.ToLower(dsn)
	for _, cs := range []string{"big5", "cp932", "gb2312", "gbk", "sjis"} {
		if strings.Contains(low, "charset="+cs) || strings.Contains(low, ","+cs) {
			return true
		}
	}
	return false
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
// comes back translated (ErrNotFound, ErrDuplicate, ErrDeadlock,
// ErrUnavailable). The transaction has the Tx deadline of db: past it
// database/sql rolls it back and fn's further statements fail.
func InTx(ctx context.Context, db *gorm.DB, fn func(tx *gorm.DB) error) error {
	return InLongTx(ctx, db, 0, fn)
}

// InLongTx is InTx with a transaction budget of within (or db's own Tx
// deadline, if longer) instead: for the few writes that rightly take
// long, such as telling every household of a street, or every resident
// of a big compound, in one transaction. Each statement keeps its own
// query deadline, so a database that stops answering still fails fast.
func InLongTx(ctx context.Context, db *gorm.DB, within time.Duration, fn func(tx *gorm.DB) error) error {
	txCtx, cancel := ctx, context.CancelFunc(func() {})
	if d := deadlinesOf(db); d != nil && !noDeadline(ctx) {
		txCtx, cancel = withDeadline(ctx, max(within, d.Tx))
	}
	defer cancel()
	err := Translate(db.WithContext(txCtx).Transaction(fn))
	if err != nil && ctx.Err() == nil && errors.Is(txCtx.Err(), context.DeadlineExceeded) && !errors.Is(err, ErrUnavailable) {
		// Rolled back for its budget: whatever fn saw (a done
		// transaction, a service error built on it) the cause is time.
		return fmt.Errorf("%w: transaction past its deadline: %w", ErrUnavailable, err)
	}
	return err
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
