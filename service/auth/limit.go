package auth

import (
	"sync"
	"time"
)

// localLimitKeys caps the keys one window of the local limiter holds, so a
// flood of made-up codes or addresses during an outage cannot grow it
// without bound; beyond it logins are refused until the window ends.
const localLimitKeys = 100_000

// localLimits counts login attempts inside this process while Redis cannot
// be reached. The limits then hold per instance instead of across all of
// them: weaker, but the flood protection stays and people can still log
// in, which during an outage matters more than an exact count.
type localLimits struct {
	mu   sync.Mutex
	slot int64
	n    map[string]int
}

// allow counts one event for key in the fixed window now falls in.
func (l *localLimits) allow(now time.Time, key string, limit int, window time.Duration) (bool, time.Duration) {
	slot := now.UnixNano() / int64(window)
	wait := time.Unix(0, (slot+1)*int64(window)).Sub(now)
	l.mu.Lock()
	defer l.mu.Unlock()
	if slot != l.slot || l.n == nil {
		l.slot, l.n = slot, map[string]int{}
	}
	if _, seen := l.n[key]; !seen && len(l.n) >= localLimitKeys {
		return false, wait
	}
	l.n[key]++
	if l.n[key] > limit {
		return false, wait
	}
	return true, 0
}
