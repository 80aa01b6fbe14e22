package auth

import (
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"redprop/service"
)

// NewUnwatched builds a service that is not told of the changes written
// through db: like an instance in another process, it learns of them only
// by reading them (WatchChanges).
func NewUnwatched(db *gorm.DB, rdb redis.UniversalClient, wx WeChat, clock service.Clock, cfg Config) *Service {
	return newService(db, rdb, wx, clock, cfg)
}
