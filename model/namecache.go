package model

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"
)

// NameCache keeps, on one instance, the few display columns a page of
// orders shows of rows that are rarely edited: categories, compounds,
// grids, buildings, regions (communities, streets, volunteer teams),
// firms, departments, households and people's display names. With it, a
// list costs the auth check and the page; without it, a third statement
// for the names.
//
// It lives here, beside FieldsOfAll, because it is a cache of rows: its
// misses are read with the storage layer's own query, and the kinds it
// may hold are tied to the tables' edit paths, which every service that
// edits them reports through Forget.
//
// How stale a name can be: an edit on this instance is seen by the next
// read (Forget runs after the edit committed; a load that raced with it
// is not kept, see epochs). An edit on another instance reaches this one
// through a Redis broadcast (Run), usually within milliseconds. If the
// broadcast is lost (Redis down, a dropped subscription), an entry lives
// at most TTL: a name may then be stale for up to TTL (default 2
// minutes). A resubscription drops everything, since broadcasts may have
// been missed meanwhile. Stale display names are not a matter of access:
// who may see an order, and whether a resident's identity is shown, is
// decided from the order and the actor's grants, never from this cache.
//
// A nil *NameCache is valid and caches nothing.
type NameCache struct {
	db      *gorm.DB // for the tables' names only; reads use the caller's db
	rdb     redis.UniversalClient
	channel string
	origin  string // this cache's own broadcasts carry it and are skipped
	ttl     time.Duration
	max     int
	now     func() time.Time
	log     *slog.Logger
	applied func(table string, ids []int64)
	ready   chan struct{}
	once    sync.Once
	tables  map[string]bool // of nameTables; read-only after NewNameCache

	mu   sync.Mutex
	sets map[string]map[int64]nameEntry // key: table + "(" + cols + ")"
	size int
	// epochs count the forgets of each table, and gen the full clears.
	// A load notes them before it reads and keeps its rows only if none
	// moved meanwhile: a row read just before an edit committed must not
	// outlive the edit's Forget.
	epochs map[string]uint64
	gen    uint64
	// cats are whole category rows (their budgets, flags and names):
	// every submit and order step reads its category, and admins edit
	// categories through the one path that calls Forget. Same staleness
	// as the names.
	cats map[int64]categoryEntry
}

type categoryEntry struct {
	row Category
	at  time.Time
}

type nameEntry struct {
	vals []string
	at   time.Time
}

// NameCacheOptions tune a NameCache; zero values take the defaults.
type NameCacheOptions struct {
	// Prefix namespaces the broadcast channel (the Redis key prefix).
	Prefix string
	// TTL bounds how long an entry is used; default 2 minutes.
	TTL time.Duration
	// Max bounds the entries kept over all tables; default 50,000 (a few
	// MB). Past it, an arbitrary entry makes room for each new one.
	Max int
	// Now is the clock of the TTL; default the wall clock.
	Now func() time.Time
	Log *slog.Logger
	// Applied, when set, is called after a broadcast from another
	// instance was applied.
	Applied func(table string, ids []int64)
}

// nameTables are the tables whose rows may be cached: those whose every
// edit path calls Forget (org's tree edits, the categories' edit, a
// user's name and phone). Others are read through on every call.
func nameTables() []any {
	return []any{&Category{}, &Compound{}, &Grid{}, &Building{}, &Region{}, &Firm{}, &Department{},
		&Household{}, &User{}}
}

// NewNameCache builds a cache over db's tables that broadcasts its
// forgets on rdb (nil: no broadcast, the TTL alone heals other
// instances). Run must run for broadcasts from others to arrive.
func NewNameCache(db *gorm.DB, rdb redis.UniversalClient, o NameCacheOptions) *NameCache {
	OrDefault(&o.TTL, 2*time.Minute)
	if o.Max <= 0 {
		o.Max = 50000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	c := &NameCache{db: db, rdb: rdb, channel: o.Prefix + "names:forget", origin: hex.EncodeToString(b[:]),
		ttl: o.TTL, max: o.Max, now: o.Now, log: o.Log, applied: o.Applied, ready: make(chan struct{}),
		tables: map[string]bool{}, sets: map[string]map[int64]nameEntry{}, epochs: map[string]uint64{},
		cats: map[int64]categoryEntry{}}
	for _, t := range nameTables() {
		if name := c.tableOf(t); name != "" {
			c.tables[name] = true
		}
	}
	return c
}

// tableOf returns the table name of a model pointer, "" if unknown.
func (c *NameCache) tableOf(table any) string {
	stmt := &gorm.Statement{DB: c.db}
	if err := stmt.Parse(table); err != nil {
		return ""
	}
	return stmt.Schema.Table
}

// cacheable reports whether rows of table may be cached.
func (c *NameCache) cacheable(table string) bool { return table != "" && c.tables[table] }

// Fields answers as FieldsOfAll does, from the cache where it can: the
// rows it misses, of every set, are read in one FieldsOfAll statement
// (none when all are cached). db must not be a transaction that wrote
// the cached tables (what it read would be kept even if it rolled
// back). The returned values must not be modified.
func (c *NameCache) Fields(ctx context.Context, db *gorm.DB, sets ...FieldSet) ([]map[int64][]string, error) {
	if c == nil {
		return FieldsOfAll(ctx, db, sets...)
	}
	out := make([]map[int64][]string, len(sets))
	miss := make([]FieldSet, len(sets))
	keys := make([]string, len(sets))
	tables := make([]string, len(sets))
	epochs := make([]uint64, len(sets))
	now := c.now()
	c.mu.Lock()
	gen := c.gen
	for i, set := range sets {
		out[i] = make(map[int64][]string, len(set.IDs))
		miss[i] = FieldSet{Table: set.Table, Cols: set.Cols}
		if t := c.tableOf(set.Table); c.cacheable(t) {
			tables[i], keys[i], epochs[i] = t, t+"("+strings.Join(set.Cols, ",")+")", c.epochs[t]
		}
		for _, id := range set.IDs {
			if id <= 0 {
				continue
			}
			if keys[i] != "" {
				if e, ok := c.sets[keys[i]][id]; ok && now.Sub(e.at) < c.ttl {
					out[i][id] = e.vals
					continue
				}
			}
			miss[i].IDs = append(miss[i].IDs, id)
		}
	}
	c.mu.Unlock()
	got, err := FieldsOfAll(ctx, db, miss...)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, m := range got {
		keep := keys[i] != "" && c.gen == gen && c.epochs[tables[i]] == epochs[i]
		for id, v := range m {
			out[i][id] = v
			if keep {
				c.put(keys[i], id, nameEntry{vals: v, at: now})
			}
		}
	}
	return out, nil
}

// put stores one entry, making room past max; c.mu is held.
func (c *NameCache) put(key string, id int64, e nameEntry) {
	set := c.sets[key]
	if set == nil {
		set = map[int64]nameEntry{}
		c.sets[key] = set
	}
	if _, ok := set[id]; !ok {
		if c.size >= c.max {
			c.evictOne(set)
		}
		c.size++
	}
	set[id] = e
}

// evictOne drops an arbitrary entry, of prefer if it has any; c.mu is held.
func (c *NameCache) evictOne(prefer map[int64]nameEntry) {
	for id := range prefer {
		delete(prefer, id)
		c.size--
		return
	}
	for _, set := range c.sets {
		for id := range set {
			delete(set, id)
			c.size--
			return
		}
	}
}

// Forget drops the cached rows ids of table (a model pointer) on this
// instance and tells the others. Call it after the edit committed.
// A failed broadcast is logged, not returned: the edit is done, and the
// other instances' entries end with the TTL.
func (c *NameCache) Forget(ctx context.Context, table any, ids ...int64) {
	if c == nil || len(ids) == 0 {
		return
	}
	t := c.tableOf(table)
	if !c.cacheable(t) {
		return
	}
	c.drop(t, ids)
	if c.rdb == nil {
		return
	}
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	// A frozen Redis must not hold the edit's answer for long.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 500*time.Millisecond)
	defer cancel()
	msg := c.origin + " " + t + " " + strings.Join(parts, ",")
	if err := c.rdb.Publish(bctx, c.channel, msg).Err(); err != nil {
		c.log.WarnContext(ctx, "name cache: broadcast lost; other instances see the old name until its TTL",
			"table", t, "ids", ids, "ttl", c.ttl.String(), "err", err)
	}
}

// drop removes entries of table and moves its epoch.
func (c *NameCache) drop(table string, ids []int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epochs[table]++
	if table == categoriesTable {
		for _, id := range ids {
			delete(c.cats, id)
		}
	}
	for key, set := range c.sets {
		if !strings.HasPrefix(key, table+"(") {
			continue
		}
		for _, id := range ids {
			if _, ok := set[id]; ok {
				delete(set, id)
				c.size--
			}
		}
	}
}

// clear drops every entry.
func (c *NameCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.sets)
	clear(c.cats)
	c.size = 0
}

// categoriesTable is the categories' table name.
const categoriesTable = "categories"

// Category returns the category id, whole, from the cache or read
// through db (ErrNotFound when there is none). A nil cache reads every
// time.
func (c *NameCache) Category(ctx context.Context, db *gorm.DB, id int64) (Category, error) {
	if c == nil {
		return ByID[Category](ctx, db, id)
	}
	c.mu.Lock()
	e, ok := c.cats[id]
	epoch, gen := c.epochs[categoriesTable], c.gen
	c.mu.Unlock()
	now := c.now()
	if ok && now.Sub(e.at) < c.ttl && !now.Before(e.at) {
		return e.row, nil
	}
	row, err := ByID[Category](ctx, db, id)
	if err != nil {
		return row, err
	}
	c.mu.Lock()
	// Kept only if no forget or clear ran meanwhile: the row read may
	// predate an edit that has since committed.
	if c.epochs[categoriesTable] == epoch && c.gen == gen {
		c.cats[id] = categoryEntry{row: row, at: now}
	}
	c.mu.Unlock()
	return row, nil
}

// Ready is closed once Run has subscribed to the broadcasts.
func (c *NameCache) Ready() <-chan struct{} { return c.ready }

// Run applies the other instances' forgets until ctx ends. While Redis
// is unreachable it retries every second; each (re)subscription clears
// the cache, as broadcasts may have been missed meanwhile.
func (c *NameCache) Run(ctx context.Context) {
	if c == nil || c.rdb == nil {
		return
	}
	ps := c.rdb.Subscribe(ctx, c.channel)
	// A read in progress does not watch ctx: closing ends it.
	stop := context.AfterFunc(ctx, func() { ps.Close() })
	defer func() {
		if stop() {
			ps.Close()
		}
	}()
	for ctx.Err() == nil {
		// A connection that died silently would block for ever: a quiet
		// minute is answered with a ping, which reconnects if need be.
		msg, err := ps.ReceiveTimeout(ctx, time.Minute)
		var ne net.Error
		switch {
		case ctx.Err() != nil:
			return
		case errors.As(err, &ne) && ne.Timeout():
			_ = ps.Ping(ctx)
		case err != nil:
			c.log.WarnContext(ctx, "name cache: subscription down, retrying", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		default:
			c.receive(msg)
		}
	}
}

func (c *NameCache) receive(msg any) {
	switch m := msg.(type) {
	case *redis.Subscription:
		if m.Kind == "subscribe" {
			c.clear()
			c.once.Do(func() { close(c.ready) })
		}
	case *redis.Message:
		origin, rest, _ := strings.Cut(m.Payload, " ")
		table, list, _ := strings.Cut(rest, " ")
		if origin == c.origin || !c.cacheable(table) {
			return
		}
		var ids []int64
		for _, s := range strings.Split(list, ",") {
			if id, err := strconv.ParseInt(s, 10, 64); err == nil {
				ids = append(ids, id)
			}
		}
		c.drop(table, ids)
		if c.applied != nil {
			c.applied(table, slices.Clone(ids))
		}
	}
}
