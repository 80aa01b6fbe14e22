package api

import (
	"redprop/model"
	"redprop/service"
)

// The console's navigation: an entry is shown when the person holds a
// grant that makes its page useful. A predicate only hides a link; a page
// opened by its address without the grant gets the service's refusal, as
// before. Adding a page is one line in consoleNav.

// navEntry is one link of the header: its key (consolePage.Nav), label,
// address and who sees it.
type navEntry struct {
	Key, Label, Path string
	Show             func(a *service.Actor) bool
}

// navLink is an entry as one page renders it.
type navLink struct {
	Key, Label, Path string
}

func consoleNav() []navEntry {
	return []navEntry{
		{"queue", "派单队列", "/console/queue", canQueue},
		{"emergency", "紧急呼叫", "/console/emergency", canEmergency},
		{"meetings", "会议与台账", "/console/meetings", canMeetings},
		{"scorecard", "评分卡", "/console/scorecard", canScoreCard},
		{"rankings", "红黑榜", "/console/rankings", canRankings},
		{"assess", "考核", "/console/assess", canAssess},
		{"inspections", "检查", "/console/inspections", canInspections},
		{"notices", "公告", "/console/notices", canNotices},
		{"disclosure", "三公开", "/console/disclosure", canDisclosure},
		{"dashboard", "统计看板", "/console/dashboard", canDashboard},
		{"exports", "导出", "/console/exports", canExports},
	}
}

// navOf is the header of one page for a.
func navOf(a *service.Actor) []navLink {
	if a == nil {
		return nil
	}
	var out []navLink
	for _, e := range consoleNav() {
		if e.Show(a) {
			out = append(out, navLink{Key: e.Key, Label: e.Label, Path: e.Path})
		}
	}
	return out
}

// canQueue: the orders of a part of the tree, or those an organisation
// handles.
func canQueue(a *service.Actor) bool {
	return a.Has(model.RoleGridWorker, model.RoleBuildingSteward, model.RoleCommunityStaff, model.RoleCommunityDuty,
		model.RoleStreetStaff, model.RoleDistrictStaff, model.RoleCityStaff, model.RolePlatformAdmin,
		model.RoleFirmManager, model.RoleFirmWorker, model.RoleDepartmentStaff, model.RoleVolunteer)
}

// canEmergency: the responders of emergency calls.
func canEmergency(a *service.Actor) bool {
	return a.Has(model.RoleGridWorker, model.RoleBuildingSteward, model.RoleCommunityDuty, model.RoleCommunityStaff,
		model.RoleStreetStaff)
}

// canMeetings: organisers, and whoever is invited or owns action items
// (the firms, departments, committees).
func canMeetings(a *service.Actor) bool {
	return a.Has(model.RoleCommunityStaff, model.RoleStreetStaff, model.RoleDistrictStaff, model.RoleCityStaff,
		model.RolePlatformAdmin, model.RoleFirmManager, model.RoleDepartmentStaff, model.RoleCommittee,
		model.RolePartyBranch, model.RoleGridWorker)
}

// canScoreCard: a firm's managers read its score cards and appeal.
func canScoreCard(a *service.Actor) bool {
	return a.Has(model.RoleFirmManager)
}

// canRankings: the staff who draft, publish and review 红黑榜.
func canRankings(a *service.Actor) bool {
	return a.Has(model.RoleStreetStaff, model.RoleDistrictStaff, model.RoleCityStaff, model.RolePlatformAdmin)
}

// canAssess: the staff who see the score cards of their part of the tree
// and the grid workers' month.
func canAssess(a *service.Actor) bool {
	return a.Has(model.RoleCommunityStaff, model.RoleStreetStaff, model.RoleDistrictStaff, model.RoleCityStaff,
		model.RolePlatformAdmin)
}

// canInspections: the inspectors and officials, and the managers of the
// firms inspected, who answer.
func canInspections(a *service.Actor) bool {
	return a.Has(model.RoleCommunityStaff, model.RoleStreetStaff, model.RoleDistrictStaff, model.RoleCityStaff,
		model.RolePlatformAdmin, model.RoleFirmManager)
}

// canDashboard: the viewers of a scope's figures and a firm's managers.
func canDashboard(a *service.Actor) bool {
	return a.Has(model.RolePlatformAdmin, model.RoleCityStaff, model.RoleDistrictStaff, model.RoleStreetStaff,
		model.RoleCommunityStaff, model.RoleCommunityDuty, model.RoleGridWorker, model.RoleFirmManager)
}

// canExports: who reads the dashboards exports their tables and lists.
func canExports(a *service.Actor) bool {
	return canDashboard(a)
}
