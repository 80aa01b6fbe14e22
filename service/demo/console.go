package demo

import (
	"context"
	"errors"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service/wechat"
)

// consoleStaff are the demo people the sandbox console offers to log in
// as (scan login confirmed from a made-up mini-program), in that order.
var consoleStaff = []struct{ name, about string }{
	{"community", "双语社区派单员"},
	{"street", "街道工作人员"},
	{"duty", "社区应急值班"},
	{"grid", "网格员"},
	{"manager", "物业经理"},
	{"city", "市级工作人员"},
	{"community2", "光安社区派单员"},
	{"resident", "居民（无工作角色，电脑端会拒绝）"},
}

// ConsolePerson is a sandbox login choice of the console.
type ConsolePerson struct {
	Name        string // the sandbox name: login code "sandbox:<Name>"
	DisplayName string
	About       string
}

// ConsolePeople lists the demo people of the console's sandbox login that
// exist in db (none when the demo city was never loaded).
func ConsolePeople(ctx context.Context, db *gorm.DB) ([]ConsolePerson, error) {
	var out []ConsolePerson
	for _, s := range consoleStaff {
		u, err := model.UserByOpenID(ctx, db, wechat.SandboxOpenID(s.name))
		if errors.Is(err, model.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ConsolePerson{Name: s.name, DisplayName: u.DisplayName, About: s.about})
	}
	return out, nil
}

// reports are what the sandbox's demo resident reports, in turn: the
// kinds of matter the seeds' residents raise, in categories that need no
// photo.
var reports = []struct{ Category, Description, Place string }{
	{"dispute", "楼上装修每天早上七点就开始电钻，和邻居沟通无果，请社区协调。", "1号楼1单元"},
	{"safety_hazard", "地下车库入口消防通道被电动车堵住，晚上尤其严重。", "地下车库入口"},
	{"suggestion", "建议在小区东门增加一处快递柜，老人取件太远。", "东门"},
	{"dispute", "邻居在楼道堆放杂物，多次提醒不清理。", "1号楼1单元3楼"},
}

// ReportOf picks the n-th demo report.
func ReportOf(n int) (category, description, place string) {
	r := reports[n%len(reports)]
	return r.Category, r.Description, r.Place
}
