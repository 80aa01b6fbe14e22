package order

import (
	"slices"

	"redprop/model"
	"redprop/service"
)

// Allowed lists the actions the actor may take on the order now, in the
// order of the steps table's names, escalation included: the same checks
// of capacity, refusal and state that taking them runs (prepare), so a
// screen offers exactly the buttons that would not be refused for who or
// when. What an action's input may still be refused for (a missing
// reason) is not known before it is given.
func (s *Service) Allowed(a *service.Actor, v View) []string {
	if a == nil {
		return nil
	}
	o := v.Order
	if !canSee(a, &o) {
		return nil
	}
	var out []string
	for _, action := range append(Actions(), ActEscalate) {
		st := steps[action]
		if !slices.Contains(st.from, o.State) {
			continue
		}
		if st.refuse != nil && st.refuse(&o) != nil {
			continue
		}
		if slices.ContainsFunc(st.who, func(c capacity) bool { _, ok := capacityOf(person(a), &o, c); return ok }) {
			out = append(out, action)
		}
	}
	return out
}

// Dispatchable reports whether the actor may dispatch orders at all (a
// dispatcher of some level), for a screen deciding whether to show the
// bulk dispatch of its queue.
func Dispatchable(a *service.Actor) bool {
	return a.Has(model.RoleCommunityStaff, model.RoleStreetStaff, model.RoleCityStaff, model.RoleDistrictStaff)
}
