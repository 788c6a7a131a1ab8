package ecs

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
)

// Task definition states.
const (
	taskDefActive           = "ACTIVE"
	taskDefInactive         = "INACTIVE"
	taskDefDeleteInProgress = "DELETE_IN_PROGRESS"
)

// taskDefRecord is one revision as stored under taskdefs/<family>/<revision,
// zero-padded so keys sort by revision>. Def is the full wire view as
// registered, with the computed members (ARN, revision, requiresAttributes,
// compatibilities) filled in.
type taskDefRecord struct {
	Family         string                `json:"family"`
	Revision       int                   `json:"revision"`
	Status         string                `json:"status"`
	RegisteredAt   time.Time             `json:"registeredAt"`
	RegisteredBy   string                `json:"registeredBy,omitempty"`
	DeregisteredAt time.Time             `json:"deregisteredAt,omitzero"`
	Def            ecsapi.TaskDefinition `json:"def"`
}

func (s *Server) taskDefKey(family string, rev int) string {
	return s.key("taskdefs", family, fmt.Sprintf("%010d", rev))
}

// cachedTaskDef reads one revision (any status) from the cache.
func (s *Server) cachedTaskDef(family string, rev int) (taskDefRecord, bool) {
	kv, ok := s.cache.Get(s.taskDefKey(family, rev))
	if !ok {
		return taskDefRecord{}, false
	}
	var r taskDefRecord
	if err := json.Unmarshal(kv.Value, &r); err != nil {
		s.log.Error("corrupt task definition record", "key", kv.Key, "err", err)
		return taskDefRecord{}, false
	}
	return r, true
}

// splitFamilyRevision splits "family:revision".
func splitFamilyRevision(s string) (string, int, bool) {
	family, revStr, ok := strings.Cut(s, ":")
	if !ok || family == "" {
		return "", 0, false
	}
	rev, err := strconv.Atoi(revStr)
	if err != nil || rev < 1 {
		return "", 0, false
	}
	return family, rev, true
}
