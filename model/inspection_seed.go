package model

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// defaultChecklist is the built-in 物业服务检查表 (100 points over the seven
// sections), in force wherever no city or street has a sheet of its own.
var defaultChecklist = []ChecklistItem{
	{Section: SectionEnvironment, Title: "楼道及公共区域保洁", Standard: "楼道、电梯、大堂每日清扫，无积尘、无污渍、无小广告", Points: 8, Rule: RulePartial},
	{Section: SectionEnvironment, Title: "生活垃圾分类与清运", Standard: "分类投放点整洁，垃圾日产日清，无满溢、无异味", Points: 7, Rule: RulePartial},
	{Section: SectionEnvironment, Title: "公共区域无乱堆乱放", Standard: "楼道、消防通道、屋面无杂物堆放", Points: 5, Rule: RuleWhole},
	{Section: SectionSecurity, Title: "门岗值守与出入登记", Standard: "门岗 24 小时有人值守，外来人员和车辆登记", Points: 6, Rule: RuleWhole},
	{Section: SectionSecurity, Title: "巡逻与监控", Standard: "按规定路线巡逻并有记录，监控设备正常运行", Points: 6, Rule: RulePartial},
	{Section: SectionSecurity, Title: "车辆停放秩序", Standard: "车辆有序停放，电动车不进楼道、不飞线充电", Points: 6, Rule: RulePartial},
	{Section: SectionFacilities, Title: "电梯运行与维保", Standard: "电梯正常运行，维保记录齐全，年检合格标志在有效期内", Points: 8, Rule: RuleWhole},
	{Section: SectionFacilities, Title: "供水供电及公共照明", Standard: "二次供水设施清洁，楼道照明完好，故障 24 小时内修复", Points: 6, Rule: RulePartial},
	{Section: SectionFacilities, Title: "共用设施完好", Standard: "单元门、门禁、道路、围墙等共用部位完好无损", Points: 6, Rule: RulePartial},
	{Section: SectionGreenery, Title: "绿化养护", Standard: "草坪修剪整齐，树木无枯枝，无黄土裸露", Points: 6, Rule: RulePartial},
	{Section: SectionGreenery, Title: "绿地无侵占", Standard: "绿地无毁绿种菜、无私搭乱建", Points: 4, Rule: RuleWhole},
	{Section: SectionFireSafety, Title: "消防设施完好", Standard: "灭火器在有效期内，消火栓有水，疏散指示完好", Points: 8, Rule: RuleWhole},
	{Section: SectionFireSafety, Title: "消防通道畅通", Standard: "消防通道和登高场地无占用，安全出口不锁闭", Points: 6, Rule: RuleWhole},
	{Section: SectionService, Title: "服务态度与响应", Standard: "工作人员着装规范、文明用语，报修及时响应", Points: 6, Rule: RulePartial},
	{Section: SectionService, Title: "信息公开", Standard: "服务标准、收费项目、投诉电话在显著位置公示", Points: 4, Rule: RuleWhole},
	{Section: SectionParty, Title: "党建引领", Standard: "项目党组织或党员亮身份，参加社区联席会议，落实问题清单", Points: 8, Rule: RulePartial},
}

// DefaultChecklistName names the built-in sheet.
const DefaultChecklistName = "物业服务质量检查表（默认）"

// SeedDefaultChecklist writes the built-in checklist as version 1 of a
// checklist of scope ScopeAll, unless one exists.
func SeedDefaultChecklist(ctx context.Context, db *gorm.DB) error {
	db = db.WithContext(ctx)
	var n int64
	if err := db.Model(&Checklist{}).Where("scope_kind = ?", ScopeAll).Count(&n).Error; err != nil {
		return Translate(err)
	}
	if n > 0 {
		return nil
	}
	now := time.Now().UTC()
	total := 0
	for _, it := range defaultChecklist {
		total += it.Points
	}
	return db.Transaction(func(tx *gorm.DB) error {
		cl := Checklist{Name: DefaultChecklistName, ScopeKind: ScopeAll, Active: true}
		cl.CreatedAt, cl.UpdatedAt = now, now
		if err := tx.Create(&cl).Error; err != nil {
			return Translate(err)
		}
		v := ChecklistVersion{ChecklistID: cl.ID, Number: 1, Note: "默认检查表", TotalPoints: total, CreatedAt: now}
		if err := tx.Create(&v).Error; err != nil {
			return Translate(err)
		}
		items := make([]ChecklistItem, len(defaultChecklist))
		for i, it := range defaultChecklist {
			it.VersionID, it.SortOrder = v.ID, i+1
			items[i] = it
		}
		if err := tx.Create(&items).Error; err != nil {
			return Translate(err)
		}
		return Translate(tx.Model(&Checklist{}).Where("id = ?", cl.ID).
			Updates(map[string]any{"latest": 1, "latest_id": v.ID}).Error)
	})
}
