package main

import "gorm.io/gorm"

// sizes are the histories -size seeds.
var sizes = map[string]bool{"none": true}

func seed(db *gorm.DB, size string, rep *Report) error { return nil }
