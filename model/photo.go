package model

// Photo is an uploaded picture. The bytes live in storage under Key (random,
// never derived from user input); OrderID is 0 until an order claims it.
type Photo struct {
	Base
	Key        string `gorm:"size:64;not null;uniqueIndex"`
	UploaderID int64  `gorm:"not null;index"`
	Mime       string `gorm:"size:32;not null"`
	Size       int64  `gorm:"not null"`
	SHA256     string `gorm:"column:sha256;size:64;not null"`
	OrderID    int64  `gorm:"not null;default:0;index"`
}
