package order

import (
	"context"
	"fmt"
	"sync"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service/calendar"
)

// defaultNumberBlock is how many order numbers one process reserves at a
// time when Options.NumberBlock is unset.
const defaultNumberBlock = 10

// numbers hands out human order numbers from blocks reserved in the
// database. The day's counter row is bumped in a short transaction of its
// own, once per block, so no order transaction holds its lock: submits no
// longer queue on it. Numbers stay unique across instances (each block is
// reserved under the row's lock); they are not gapless — a block left
// half-used at a restart and a number taken by a submit that then failed
// are skipped — and with several instances they are not in creation
// order.
type numbers struct {
	db    *gorm.DB
	block int64

	mu   sync.Mutex
	day  string
	next int64 // the next number of day to hand out
	end  int64 // the last number of the block held
}

func newNumbers(db *gorm.DB, block int) *numbers {
	if block <= 0 {
		block = defaultNumberBlock
	}
	return &numbers{db: db, block: int64(block)}
}

// take hands out the next number of now's Beijing day. It must run outside
// any transaction of the caller.
func (n *numbers) take(ctx context.Context, now time.Time) (string, error) {
	day := now.In(calendar.Beijing).Format("20060102")
	n.mu.Lock()
	defer n.mu.Unlock()
	// The lock is held over a refill: the process's other submits wait
	// for that one short transaction instead of each reserving a block.
	if n.day != day || n.next > n.end {
		last, err := model.ReserveOrderNumbers(ctx, n.db, day, n.block)
		if err != nil {
			return "", err
		}
		n.day, n.next, n.end = day, last-n.block+1, last
	}
	seq := n.next
	n.next++
	return fmt.Sprintf("GD%s%04d", day, seq), nil
}
