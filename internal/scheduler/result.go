package scheduler

// placeTargets places each task on its named instance (StartTask): the
// filters apply, constraints and strategies do not.
func (r *run) placeTargets() Result {
	var res Result
	var missing []Rejection
	refused := false
	for _, id := range r.req.Targets {
		i, ok := r.s.byID[id]
		if !ok {
			missing = append(missing, Rejection{InstanceID: id, ARN: id, Filter: FilterMissing, Reason: ReasonMissing})
			refused = true
			continue
		}
		if f := r.check(i); f != filterNone {
			r.rej[i] = f
			refused = true
			continue
		}
		res.Placements = append(res.Placements, id)
		r.planned[i]++
	}
	res.Candidates = len(res.Placements)
	r.finish(&res, refused, true)
	res.Failures = append(res.Failures, missing...)
	return res
}

// finish fills the explanation and, when something was not placed, the
// failures: each refusing instance's last rejection, in snapshot order.
// Draining instances silently take no new tasks unless named as targets.
func (r *run) finish(res *Result, failed, targets bool) {
	var removed [numFilters]int
	for i := range r.rej {
		f := r.rej[i]
		if f == filterNone {
			continue
		}
		removed[f]++
		if !failed {
			continue
		}
		in := &r.s.insts[i]
		reason := reasonOf(f, in.Status)
		if reason == ReasonDraining && !targets {
			continue
		}
		res.Failures = append(res.Failures, Rejection{InstanceID: in.ID, ARN: in.ARN, Filter: f, Reason: reason, Detail: r.detail(i, f)})
	}
	for f := FilterStatus; f < numFilters; f++ {
		if removed[f] > 0 {
			res.Explain = append(res.Explain, Step{Filter: f, Removed: removed[f]})
		}
	}
}

func reasonOf(f Filter, status string) string {
	switch f {
	case FilterStatus:
		if status == "DRAINING" {
			return ReasonDraining
		}
		return ReasonInactive
	case FilterAgent:
		return ReasonAgent
	case FilterCapacityProvider:
		return ReasonCapacityProvider
	case FilterAttributes, FilterAwsvpc:
		return ReasonAttribute
	case FilterMemberOf:
		return ReasonMemberOf
	case FilterCPU:
		return ReasonCPU
	case FilterMemory:
		return ReasonMemory
	case FilterPorts:
		return ReasonPorts
	case FilterPortsUDP:
		return ReasonPortsUDP
	case FilterENI:
		return ReasonENI
	case FilterLocation:
		return ReasonLocation
	case FilterDistinctInstance:
		return ReasonDistinctInstance
	}
	return ReasonMissing
}
