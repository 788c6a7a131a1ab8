package ecs

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
)

// ListTaskDefinitions implements ecsapi.Handler. familyPrefix is the full
// family name (ECS documents it so: "The full family name to filter the
// results with"); status defaults to ACTIVE; sort orders by family name,
// then revision number, ASC by default.
func (s *Server) ListTaskDefinitions(ctx context.Context, in *ecsapi.ListTaskDefinitionsRequest) (*ecsapi.ListTaskDefinitionsResponse, error) {
	status := taskDefActive
	if in.Status != nil {
		if !slices.Contains(in.Status.Values(), *in.Status) {
			return nil, invalidParam("Invalid status %q: valid values are ACTIVE, INACTIVE and DELETE_IN_PROGRESS.", *in.Status)
		}
		status = string(*in.Status)
	}
	desc := false
	if in.Sort != nil {
		if !slices.Contains(in.Sort.Values(), *in.Sort) {
			return nil, invalidParam("Invalid sort %q: valid values are ASC and DESC.", *in.Sort)
		}
		desc = *in.Sort == ecsapi.SortOrderDesc
	}
	var recs []taskDefSummary
	if family := deref(in.FamilyPrefix); family == "" || taskDefNameRE.MatchString(family) {
		recs = s.taskDefSummaries(family)
	}
	// Page over sort keys whose byte order is the requested order, so a
	// nextToken (the last key returned) resumes correctly in either order.
	arns := map[string]string{}
	var keys []string
	for _, r := range recs {
		if r.Status != status {
			continue
		}
		k := taskDefSortKey(r.Family, r.Revision, desc)
		arns[k] = s.taskDefARN(r.Family, r.Revision)
		keys = append(keys, k)
	}
	slices.Sort(keys)
	pg, next, err := page(keys, in.NextToken, in.MaxResults, 100, 100)
	if err != nil {
		return nil, err
	}
	out := &ecsapi.ListTaskDefinitionsResponse{TaskDefinitionArns: make([]string, 0, len(pg)), NextToken: next}
	for _, k := range pg {
		out.TaskDefinitionArns = append(out.TaskDefinitionArns, arns[k])
	}
	return out, nil
}

// taskDefSortKey orders revisions by family name, then revision number.
// Family names only hold [A-Za-z0-9_-], so the 0x00 separator sorts a family
// before any longer family it prefixes. For DESC every byte is inverted,
// which reverses the order (the separator becomes 0xFF, still sorting a
// longer family first).
func taskDefSortKey(family string, rev int, desc bool) string {
	k := []byte(fmt.Sprintf("%s\x00%010d", family, rev))
	if desc {
		for i := range k {
			k[i] = 0xFF - k[i]
		}
	}
	return string(k)
}

// taskDefSummary is the part of a taskDefRecord the list operations need;
// decoding only it skips building every revision's full definition.
type taskDefSummary struct {
	Family   string `json:"family"`
	Revision int    `json:"revision"`
	Status   string `json:"status"`
}

// taskDefSummaries returns the stored revisions of family, or of every
// family when family is "".
func (s *Server) taskDefSummaries(family string) []taskDefSummary {
	prefix := s.key("taskdefs") + "/"
	if family != "" {
		prefix = s.key("taskdefs", family) + "/"
	}
	var out []taskDefSummary
	for _, kv := range s.cache.List(prefix) {
		var r taskDefSummary
		if err := json.Unmarshal(kv.Value, &r); err != nil {
			s.log.Error("corrupt task definition record", "key", kv.Key, "err", err)
			continue
		}
		out = append(out, r)
	}
	return out
}

// ListTaskDefinitionFamilies implements ecsapi.Handler. A family is listed
// while it has a stored revision (DELETE_IN_PROGRESS ones included, as ECS
// documents); status ACTIVE keeps families with an ACTIVE revision, INACTIVE
// those without one, and ALL — the default, per the API reference ("By
// default, both ACTIVE and INACTIVE task definition families are listed") —
// keeps both.
func (s *Server) ListTaskDefinitionFamilies(ctx context.Context, in *ecsapi.ListTaskDefinitionFamiliesRequest) (*ecsapi.ListTaskDefinitionFamiliesResponse, error) {
	want := ecsapi.TaskDefinitionFamilyStatusAll
	if in.Status != nil {
		if !slices.Contains(in.Status.Values(), *in.Status) {
			return nil, invalidParam("Invalid status %q: valid values are ACTIVE, INACTIVE and ALL.", *in.Status)
		}
		want = *in.Status
	}
	prefix := deref(in.FamilyPrefix)
	active := map[string]bool{}
	for _, r := range s.taskDefSummaries("") {
		if strings.HasPrefix(r.Family, prefix) {
			active[r.Family] = active[r.Family] || r.Status == taskDefActive
		}
	}
	var families []string
	for f, a := range active {
		if want == ecsapi.TaskDefinitionFamilyStatusAll || a == (want == ecsapi.TaskDefinitionFamilyStatusActive) {
			families = append(families, f)
		}
	}
	slices.Sort(families)
	pg, next, err := page(families, in.NextToken, in.MaxResults, 100, 100)
	if err != nil {
		return nil, err
	}
	return &ecsapi.ListTaskDefinitionFamiliesResponse{Families: nonNil(pg), NextToken: next}, nil
}
