package wechat

import "time"

// SetLocalFresh sets how long the cache answers its copy without Redis,
// until the returned restore.
func SetLocalFresh(d time.Duration) (restore func()) {
	old := localFresh
	localFresh = d
	return func() { localFresh = old }
}
