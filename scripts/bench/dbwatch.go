package main

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"
)

// dbWatch looks at the database while a phase runs (MariaDB only): the
// lock waits of the bench's schema and its statements that run long,
// sampled every 100 ms from information_schema, and the rows each table
// was read and changed by (TABLE_STATISTICS, with userstat on for the
// run). These do not depend on the machine's load the way latencies do.
type dbWatch struct {
	db     *sql.DB
	schema string
	// userstat is the server's setting before the run, put back at the end.
	userstat string
	// pool is innodb_buffer_pool_size before the run when -buffer-pool
	// changed it (0: unchanged).
	pool int64

	mu    sync.Mutex
	cur   *DBFigures
	seen  map[string]bool // lock waits and statements counted in this phase
	done  chan struct{}
	wg    sync.WaitGroup
	base  map[string][2]int64 // table → rows read, changed at the phase's start
	reads int64               // Innodb_buffer_pool_reads at the phase's start
}

// status reads the server's InnoDB status counters the figures use.
func (w *dbWatch) status(ctx context.Context) map[string]int64 {
	out := map[string]int64{}
	rows, err := w.db.QueryContext(ctx, `SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_buffer_pool_pages_dirty',
		'Innodb_buffer_pool_pages_total', 'Innodb_checkpoint_age', 'Innodb_buffer_pool_reads')`)
	if err != nil {
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var v int64
		if rows.Scan(&k, &v) == nil {
			out[k] = v
		}
	}
	return out
}

// DBFigures is what the database did during one phase.
type DBFigures struct {
	Phase string `json:"phase"`
	// Samples is how often the lock waits and statements were read.
	Samples int `json:"samples"`
	// LockWaits counts distinct waits (a transaction waiting for one lock).
	LockWaits int `json:"lock_waits"`
	// WaitSamples is how many samples found at least one wait.
	WaitSamples int `json:"wait_samples"`
	// LongestWaitMS is the longest a waiting transaction had waited when sampled.
	LongestWaitMS float64 `json:"longest_wait_ms"`
	// LongestTxMS is the oldest open transaction of the schema when sampled.
	LongestTxMS float64 `json:"longest_tx_ms"`
	// Waits are the kinds of wait seen, the most frequent first.
	Waits []DBShape `json:"waits,omitempty"`
	// Slow are the statements seen running for 100 ms or more.
	Slow []DBShape `json:"slow_statements,omitempty"`
	// RowsRead and RowsChanged are per table, over the phase.
	RowsRead    map[string]int64 `json:"rows_read,omitempty"`
	RowsChanged map[string]int64 `json:"rows_changed,omitempty"`
	// DirtyPages is the buffer pool's dirty pages when the phase began, of
	// PoolPages; CheckpointMB is the redo not yet checkpointed then.
	DirtyPages   int64   `json:"dirty_pages_at_start"`
	PoolPages    int64   `json:"pool_pages"`
	CheckpointMB float64 `json:"checkpoint_age_mb_at_start"`
	// DiskReads is the server's pages read from disk during the phase (the
	// whole server's: other databases on it count too).
	DiskReads int64 `json:"disk_page_reads"`
}

// DBShape is one statement (or waiter ← blocker pair) with literals
// taken out, and how often it was seen.
type DBShape struct {
	What  string  `json:"what"`
	Count int     `json:"count"`
	MaxMS float64 `json:"max_ms"`
}

// openWatch connects to the DSN's server; nil when it is not MariaDB (the
// lock tables are MariaDB's information_schema ones) or unreachable.
func openWatch(dsn string) *dbWatch {
	if dsn == "" {
		return nil
	}
	cfg, err := mysqldrv.ParseDSN(dsn)
	if err != nil || cfg.DBName == "" {
		return nil
	}
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return nil
	}
	db.SetMaxOpenConns(2)
	w := &dbWatch{db: db, schema: cfg.DBName}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil || !strings.Contains(version, "MariaDB") {
		db.Close()
		return nil
	}
	if err := db.QueryRowContext(ctx, "SELECT @@userstat").Scan(&w.userstat); err == nil && w.userstat == "0" {
		if _, err := db.ExecContext(ctx, "SET GLOBAL userstat = 1"); err != nil {
			w.userstat = ""
		}
	}
	return w
}

// close puts back what the run changed on the server.
func (w *dbWatch) close() {
	if w == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if w.userstat == "0" {
		w.db.ExecContext(ctx, "SET GLOBAL userstat = 0")
	}
	if w.pool > 0 {
		if err := w.resizePool(ctx, w.pool); err != nil {
			fmt.Fprintln(os.Stderr, "bench: restore innodb_buffer_pool_size:", err)
		}
	}
	w.db.Close()
}

// parseSize reads 128M, 2G, 512MB or bytes.
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "B")
	mult := int64(1)
	switch {
	case strings.HasSuffix(t, "K"):
		mult, t = 1<<10, strings.TrimSuffix(t, "K")
	case strings.HasSuffix(t, "M"):
		mult, t = 1<<20, strings.TrimSuffix(t, "M")
	case strings.HasSuffix(t, "G"):
		mult, t = 1<<30, strings.TrimSuffix(t, "G")
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("-buffer-pool: %q is no size (e.g. 512M, 2G)", s)
	}
	return int64(n * float64(mult)), nil
}

// poolSize is innodb_buffer_pool_size now.
func (w *dbWatch) poolSize(ctx context.Context) (int64, error) {
	var n int64
	err := w.db.QueryRowContext(ctx, "SELECT @@innodb_buffer_pool_size").Scan(&n)
	return n, err
}

// setPool resizes the buffer pool for the run; close restores it.
func (w *dbWatch) setPool(size int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	old, err := w.poolSize(ctx)
	if err != nil {
		return err
	}
	if err := w.resizePool(ctx, size); err != nil {
		return err
	}
	if w.pool == 0 {
		w.pool = old
	}
	return nil
}

// resizePool sets innodb_buffer_pool_size (MariaDB resizes online, in the
// background) and waits until the resize is done.
func (w *dbWatch) resizePool(ctx context.Context, size int64) error {
	if _, err := w.db.ExecContext(ctx, "SET GLOBAL innodb_buffer_pool_size = ?", size); err != nil {
		return fmt.Errorf("set innodb_buffer_pool_size: %w", err)
	}
	for {
		var name, status string
		err := w.db.QueryRowContext(ctx, "SHOW STATUS LIKE 'Innodb_buffer_pool_resize_status'").Scan(&name, &status)
		if err != nil || status == "" || strings.Contains(status, "ompleted") {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("buffer pool resize: %s", status)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// begin starts watching a phase.
func (w *dbWatch) begin(phase string) {
	if w == nil {
		return
	}
	w.mu.Lock()
	w.cur = &DBFigures{Phase: phase}
	w.seen = map[string]bool{}
	w.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w.base = w.tableStats(ctx)
	st := w.status(ctx)
	w.cur.DirtyPages, w.cur.PoolPages = st["Innodb_buffer_pool_pages_dirty"], st["Innodb_buffer_pool_pages_total"]
	w.cur.CheckpointMB = float64(st["Innodb_checkpoint_age"]) / (1 << 20)
	w.reads = st["Innodb_buffer_pool_reads"]
	w.done = make(chan struct{})
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			w.sample()
			select {
			case <-w.done:
				return
			case <-t.C:
			}
		}
	}()
}

// end stops watching and returns the phase's figures.
func (w *dbWatch) end() *DBFigures {
	if w == nil {
		return nil
	}
	close(w.done)
	w.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	f := w.cur
	f.DiskReads = w.status(ctx)["Innodb_buffer_pool_reads"] - w.reads
	f.RowsRead, f.RowsChanged = map[string]int64{}, map[string]int64{}
	for t, v := range w.tableStats(ctx) {
		b := w.base[t]
		if d := v[0] - b[0]; d > 0 {
			f.RowsRead[t] = d
		}
		if d := v[1] - b[1]; d > 0 {
			f.RowsChanged[t] = d
		}
	}
	sortShapes(f.Waits)
	sortShapes(f.Slow)
	return f
}

func sortShapes(s []DBShape) {
	slices.SortFunc(s, func(a, b DBShape) int { return b.Count - a.Count })
}

// tableStats reads TABLE_STATISTICS of the schema (empty without userstat).
func (w *dbWatch) tableStats(ctx context.Context) map[string][2]int64 {
	out := map[string][2]int64{}
	rows, err := w.db.QueryContext(ctx, "SELECT TABLE_NAME, ROWS_READ, ROWS_CHANGED FROM information_schema.TABLE_STATISTICS WHERE TABLE_SCHEMA = ?", w.schema)
	if err != nil {
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var t string
		var r, c int64
		if rows.Scan(&t, &r, &c) == nil {
			out[t] = [2]int64{r, c}
		}
	}
	return out
}

var literals = regexp.MustCompile(`'(?:[^'\\]|\\.)*'|\b\d+(?:\.\d+)?\b`)

// stmtShape is a statement without its literals, cut short.
func stmtShape(q string) string {
	q = strings.Join(strings.Fields(literals.ReplaceAllString(q, "?")), " ")
	if q == "" {
		return "(between statements)"
	}
	if len(q) > 140 {
		q = q[:140] + "…"
	}
	return q
}

// count adds one sighting of what to shapes.
func count(shapes []DBShape, what string, ms float64) []DBShape {
	for i := range shapes {
		if shapes[i].What == what {
			shapes[i].Count++
			shapes[i].MaxMS = max(shapes[i].MaxMS, ms)
			return shapes
		}
	}
	return append(shapes, DBShape{What: what, Count: 1, MaxMS: ms})
}

// sample reads the lock waits, long statements and open transactions of
// the schema once.
func (w *dbWatch) sample() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	like := "`" + w.schema + "`.%"
	waits, err := w.db.QueryContext(ctx, `SELECT r.trx_id, w.requested_lock_id, COALESCE(r.trx_query, ''), COALESCE(b.trx_query, ''),
		COALESCE(l.lock_table, ''), COALESCE(l.lock_index, ''), COALESCE(l.lock_mode, ''),
		COALESCE(TIMESTAMPDIFF(MICROSECOND, r.trx_wait_started, NOW(6)), 0) / 1000
		FROM information_schema.INNODB_LOCK_WAITS w
		JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id
		JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id
		JOIN information_schema.INNODB_LOCKS l ON l.lock_id = w.requested_lock_id
		WHERE l.lock_table LIKE ?`, like)
	if err != nil {
		return
	}
	type wait struct {
		key, what string
		ms        float64
	}
	var ws []wait
	for waits.Next() {
		var trx, lock, q, bq, table, index, mode string
		var ms float64
		if waits.Scan(&trx, &lock, &q, &bq, &table, &index, &mode, &ms) == nil {
			what := fmt.Sprintf("%s waits (%s on %s.%s) for a transaction at: %s", stmtShape(q), mode,
				strings.TrimPrefix(table, "`"+w.schema+"`."), index, stmtShape(bq))
			ws = append(ws, wait{trx + "/" + lock, what, ms})
		}
	}
	waits.Close()
	type stmt struct {
		key, what string
		ms        float64
	}
	var ss []stmt
	if rows, err := w.db.QueryContext(ctx, `SELECT ID, QUERY_ID, TIME_MS, COALESCE(INFO, '') FROM information_schema.PROCESSLIST
		WHERE DB = ? AND COMMAND = 'Query' AND ID <> CONNECTION_ID() AND TIME_MS >= 100`, w.schema); err == nil {
		for rows.Next() {
			var id, qid int64
			var ms float64
			var q string
			if rows.Scan(&id, &qid, &ms, &q) == nil {
				ss = append(ss, stmt{fmt.Sprintf("q%d/%d", id, qid), stmtShape(q), ms})
			}
		}
		rows.Close()
	}
	var oldest float64
	w.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(TIMESTAMPDIFF(MICROSECOND, t.trx_started, NOW(6))), 0) / 1000
		FROM information_schema.INNODB_TRX t JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
		WHERE p.DB = ?`, w.schema).Scan(&oldest)

	w.mu.Lock()
	defer w.mu.Unlock()
	f := w.cur
	f.Samples++
	f.LongestTxMS = max(f.LongestTxMS, oldest)
	if len(ws) > 0 {
		f.WaitSamples++
	}
	for _, x := range ws {
		f.LongestWaitMS = max(f.LongestWaitMS, x.ms)
		if !w.seen[x.key] {
			w.seen[x.key] = true
			f.LockWaits++
			f.Waits = count(f.Waits, x.what, x.ms)
		}
	}
	for _, x := range ss {
		if !w.seen[x.key] {
			w.seen[x.key] = true
			f.Slow = count(f.Slow, x.what, x.ms)
		}
	}
}

// dbMarkdown is the report's section on what the database did per phase.
func dbMarkdown(figs []DBFigures, figures []Figure) string {
	if len(figs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\n## The database during each phase\n\n" +
		"Sampled every 100 ms from information_schema (lock waits of this schema, statements running ≥ 100 ms, open transactions); " +
		"rows read and changed from TABLE_STATISTICS (userstat on for the run), per successful request of the phase.\n\n" +
		"Dirty pages and the checkpoint age (redo not yet flushed) are read when the phase begins; pages read from disk are the whole server's.\n\n" +
		"| phase | samples | lock waits | samples with a wait | longest wait | oldest transaction | statements ≥ 100 ms | rows read / request | rows changed / request | dirty pages at start | checkpoint age at start | pages read from disk |\n" +
		"|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, f := range figs {
		n := 0
		for _, x := range figures {
			if x.Phase == f.Phase && x.Server == "redprop" {
				n += x.Requests - x.Errors
			}
		}
		slow := 0
		for _, s := range f.Slow {
			slow += s.Count
		}
		var read, changed int64
		for _, v := range f.RowsRead {
			read += v
		}
		for _, v := range f.RowsChanged {
			changed += v
		}
		per := func(v int64) string {
			if n == 0 {
				return "—"
			}
			return fmt.Sprintf("%.1f", float64(v)/float64(n))
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %.0f ms | %.0f ms | %d | %s | %s | %d of %d | %.0f MB | %d |\n", f.Phase, f.Samples, f.LockWaits, f.WaitSamples,
			f.LongestWaitMS, f.LongestTxMS, slow, per(read), per(changed), f.DirtyPages, f.PoolPages, f.CheckpointMB, f.DiskReads)
	}
	for _, f := range figs {
		if len(f.Waits) == 0 && len(f.Slow) == 0 && len(f.RowsRead) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n%s:\n\n", f.Phase)
		for i, s := range f.Waits {
			if i == 5 {
				break
			}
			fmt.Fprintf(&b, "- wait ×%d (longest %.0f ms): `%s`\n", s.Count, s.MaxMS, s.What)
		}
		for i, s := range f.Slow {
			if i == 5 {
				break
			}
			fmt.Fprintf(&b, "- running ≥ 100 ms ×%d (longest %.0f ms): `%s`\n", s.Count, s.MaxMS, s.What)
		}
		if len(f.RowsRead) > 0 {
			tables := slices.Sorted(maps.Keys(f.RowsRead))
			slices.SortFunc(tables, func(a, b string) int { return int(f.RowsRead[b] - f.RowsRead[a]) })
			var parts []string
			for _, t := range tables[:min(6, len(tables))] {
				parts = append(parts, fmt.Sprintf("%s %d", t, f.RowsRead[t]))
			}
			fmt.Fprintf(&b, "- rows read: %s\n", strings.Join(parts, ", "))
		}
	}
	return b.String()
}
