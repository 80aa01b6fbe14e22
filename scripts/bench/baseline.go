package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/glebarez/sqlite"
	mysqldrv "github.com/go-sql-driver/mysql"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// The baseline is what a new user would write with gin and gorm for the
// minimal equivalent of redprop's order endpoints: an insert transaction
// of two rows (an order and its first timeline row), an indexed list of
// 20 newest first, a get by primary key. No auth, no checks, no pushes:
// it is the ceiling the database and the stack give, so redprop's figures
// are reported as a share of it.

type benchOrder struct {
	ID          int64  `gorm:"primaryKey;index:ix_bench_orders_author,priority:2"`
	AuthorID    int64  `gorm:"not null;index:ix_bench_orders_author,priority:1"`
	State       string `gorm:"size:16;not null"`
	Place       string `gorm:"size:100"`
	Description string `gorm:"size:1000;not null"`
	CreatedAt   time.Time
}

type benchEvent struct {
	ID        int64  `gorm:"primaryKey"`
	OrderID   int64  `gorm:"not null;index"`
	Action    string `gorm:"size:24;not null"`
	ActorID   int64  `gorm:"not null"`
	CreatedAt time.Time
}

// openBaseline opens the same database redprop uses (MariaDB) or a SQLite
// file of its own, with redprop's pool limits.
func openBaseline(mysqlDSN, sqlitePath string) (*gorm.DB, error) {
	gcfg := &gorm.Config{Logger: logger.Discard}
	var db *gorm.DB
	var err error
	if mysqlDSN != "" {
		cfg, perr := mysqldrv.ParseDSN(mysqlDSN)
		if perr != nil {
			return nil, perr
		}
		cfg.ParseTime = true
		db, err = gorm.Open(mysql.Open(cfg.FormatDSN()), gcfg)
	} else {
		db, err = gorm.Open(sqlite.Open(sqlitePath+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"), gcfg)
	}
	if err != nil {
		return nil, err
	}
	sqlDB, _ := db.DB()
	if mysqlDSN != "" {
		sqlDB.SetMaxOpenConns(50)
		sqlDB.SetMaxIdleConns(50)
	} else {
		sqlDB.SetMaxOpenConns(1)
	}
	if err := db.AutoMigrate(&benchOrder{}, &benchEvent{}); err != nil {
		return nil, err
	}
	return db, nil
}

// startBaseline serves the baseline on a free loopback port.
func startBaseline(db *gorm.DB) (base string, stop func(), err error) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery())
	r.POST("/orders", func(c *gin.Context) {
		var in struct {
			AuthorID    int64  `json:"author_id"`
			Place       string `json:"place"`
			Description string `json:"description"`
		}
		if err := c.ShouldBindJSON(&in); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
			return
		}
		o := benchOrder{AuthorID: in.AuthorID, State: "submitted", Place: in.Place, Description: in.Description}
		err := db.WithContext(c).Transaction(func(tx *gorm.DB) error {
			if err := tx.Create(&o).Error; err != nil {
				return err
			}
			return tx.Create(&benchEvent{OrderID: o.ID, Action: "submit", ActorID: in.AuthorID}).Error
		})
		if err != nil {
			c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusCreated, o)
	})
	r.GET("/orders", func(c *gin.Context) {
		author, _ := strconv.ParseInt(c.Query("author"), 10, 64)
		q := db.WithContext(c).Where("author_id = ?", author)
		if before, _ := strconv.ParseInt(c.Query("before"), 10, 64); before > 0 {
			q = q.Where("id < ?", before)
		}
		var items []benchOrder
		if err := q.Order("id DESC").Limit(20).Find(&items).Error; err != nil {
			c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusOK, gin.H{"items": items})
	})
	r.GET("/orders/:id", func(c *gin.Context) {
		var o benchOrder
		err := db.WithContext(c).First(&o, c.Param("id")).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			c.JSON(http.StatusNotFound, gin.H{"error": "not found"})
		case err != nil:
			c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
		default:
			c.JSON(http.StatusOK, o)
		}
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: r}
	go srv.Serve(l)
	return fmt.Sprintf("http://%s", l.Addr()), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

// baselineAuthors are the authors the baseline's load writes and lists as
// (client w is author w mod baselineAuthors + 1).
const baselineAuthors = 64

// seedBaseline writes n past orders into the baseline's tables (with one
// timeline row each), spread over baselineAuthors authors and a year, so
// that its list pages through a table of redprop's history size.
func seedBaseline(db *gorm.DB, n int64) error {
	if n == 0 {
		return nil
	}
	db = db.Session(&gorm.Session{SkipHooks: true, SkipDefaultTransaction: true, Logger: logger.Discard})
	end := time.Now().Add(-24 * time.Hour)
	span := int64(365 * 24 * time.Hour)
	p := newProgress("baseline", int(n))
	per := int64(batch)
	if db.Dialector.Name() != "mysql" {
		per = 500
	}
	for start := int64(0); start < n; start += per {
		k := min(per, n-start)
		orders := make([]benchOrder, 0, k)
		for i := start; i < start+k; i++ {
			at := end.Add(-time.Duration(span - span*i/n))
			orders = append(orders, benchOrder{ID: i + 1, AuthorID: i%baselineAuthors + 1, State: "closed",
				Place: fmt.Sprintf("%d号楼", i%9+1), Description: fmt.Sprintf("历史工单%d：楼道灯不亮，请尽快维修", i), CreatedAt: at})
		}
		if err := db.Create(&orders).Error; err != nil {
			return err
		}
		evs := make([]benchEvent, 0, k)
		for _, o := range orders {
			evs = append(evs, benchEvent{ID: o.ID, OrderID: o.ID, Action: "submit", ActorID: o.AuthorID, CreatedAt: o.CreatedAt})
		}
		if err := db.Create(&evs).Error; err != nil {
			return err
		}
		p.set(int(start + k))
	}
	if db.Dialector.Name() == "mysql" {
		db.Exec("ANALYZE TABLE bench_orders, bench_events")
	}
	return nil
}
