package ecs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/awsapi"
	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/store"
)

// Task definition states.
const (
	taskDefActive           = "ACTIVE"
	taskDefInactive         = "INACTIVE"
	taskDefDeleteInProgress = "DELETE_IN_PROGRESS"
)

const (
	// maxRevisionsPerFamily is ECS's quota, deregistered revisions included.
	maxRevisionsPerFamily = 1_000_000
	// registerAttempts bounds the retries of a registration that keeps losing
	// the family counter to concurrent registrations; each loss means another
	// registration of the family succeeded, so this only trips under
	// sustained contention far beyond ECS's own rate limits.
	registerAttempts = 200
)

// taskDefRecord is one revision as stored under taskdefs/<family>/<revision,
// zero-padded so keys sort by revision>. Def is the full wire view as
// registered, with the computed members (ARN, revision, requiresAttributes,
// compatibilities) filled in; the lifecycle fields (status and times) are
// the record's own and are copied into the view when rendering it.
type taskDefRecord struct {
	Family            string                `json:"family"`
	Revision          int                   `json:"revision"`
	Status            string                `json:"status"`
	RegisteredAt      time.Time             `json:"registeredAt"`
	RegisteredBy      string                `json:"registeredBy,omitempty"`
	DeregisteredAt    time.Time             `json:"deregisteredAt,omitzero"`
	DeleteRequestedAt time.Time             `json:"deleteRequestedAt,omitzero"`
	Def               ecsapi.TaskDefinition `json:"def"`
}

// familyRecord is a family's revision counter, stored under
// families/<family>. It outlives every revision, so a family's revisions
// keep counting up after deregistration and deletion, as on ECS.
type familyRecord struct {
	Family       string `json:"family"`
	LastRevision int    `json:"lastRevision"`
}

func (s *Server) taskDefKey(family string, rev int) string {
	return s.key("taskdefs", family, fmt.Sprintf("%010d", rev))
}

func (s *Server) familyKey(family string) string { return s.key("families", family) }

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

// cachedFamily returns every stored revision of family, oldest first.
func (s *Server) cachedFamily(family string) []taskDefRecord {
	var out []taskDefRecord
	for _, kv := range s.cache.List(s.key("taskdefs", family) + "/") {
		var r taskDefRecord
		if err := json.Unmarshal(kv.Value, &r); err != nil {
			s.log.Error("corrupt task definition record", "key", kv.Key, "err", err)
			continue
		}
		out = append(out, r)
	}
	return out
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

// taskDefRef is a parsed task definition reference: a family alone (rev 0)
// or a family and revision.
type taskDefRef struct {
	family string
	rev    int
}

// parseTaskDefRef reads "family", "family:revision" or a task definition ARN
// of this account and region. ok is false for anything else.
func (s *Server) parseTaskDefRef(ref string) (taskDefRef, bool) {
	if strings.HasPrefix(ref, "arn:") {
		a, ok := parseARN(ref)
		if !ok || a.Resource != resTaskDefinition || len(a.Path) != 1 || a.Region != s.cfg.Region || a.Account != s.cfg.AccountID {
			return taskDefRef{}, false
		}
		family, rev, ok := splitFamilyRevision(a.Path[0])
		return taskDefRef{family, rev}, ok && taskDefNameRE.MatchString(family)
	}
	if strings.Contains(ref, ":") {
		family, rev, ok := splitFamilyRevision(ref)
		return taskDefRef{family, rev}, ok && taskDefNameRE.MatchString(family)
	}
	return taskDefRef{family: ref}, taskDefNameRE.MatchString(ref)
}

// resolveTaskDef resolves a task definition reference as RunTask and
// CreateService take it: a family means its latest ACTIVE revision;
// family:revision and ARNs name one revision whatever its status (callers
// that need ACTIVE check Status). Unknown references are ClientException.
func (s *Server) resolveTaskDef(ref string) (taskDefRecord, error) {
	notFound := clientErr("Unable to describe task definition.")
	r, ok := s.parseTaskDefRef(ref)
	if !ok {
		return taskDefRecord{}, notFound
	}
	if r.rev > 0 {
		rec, ok := s.cachedTaskDef(r.family, r.rev)
		if !ok {
			return taskDefRecord{}, notFound
		}
		return rec, nil
	}
	revs := s.cachedFamily(r.family)
	for i := len(revs) - 1; i >= 0; i-- {
		if revs[i].Status == taskDefActive {
			return revs[i], nil
		}
	}
	return taskDefRecord{}, notFound
}

// taskDefView renders a stored revision with its lifecycle fields.
func (s *Server) taskDefView(r taskDefRecord) *ecsapi.TaskDefinition {
	v := r.Def
	v.Status = ptr(ecsapi.TaskDefinitionStatus(r.Status))
	v.RegisteredAt = awsapiTime(r.RegisteredAt)
	v.DeregisteredAt = awsapiTime(r.DeregisteredAt)
	v.DeleteRequestedAt = awsapiTime(r.DeleteRequestedAt)
	if r.RegisteredBy != "" {
		v.RegisteredBy = ptr(r.RegisteredBy)
	}
	return &v
}

// callerARN is the principal ECS records as registeredBy.
func (s *Server) callerARN(ctx context.Context) string {
	if p, ok := awsapi.PrincipalFrom(ctx); ok && p.ARN != "" {
		return p.ARN
	}
	return "arn:aws:iam::" + s.cfg.AccountID + ":root"
}

// RegisterTaskDefinition implements ecsapi.Handler. The revision comes from
// the family's counter, which is bumped in the same guarded transaction that
// creates the revision and its tags, so concurrent registrations of a
// family never share a revision and nothing is written on failure.
func (s *Server) RegisterTaskDefinition(ctx context.Context, in *ecsapi.RegisterTaskDefinitionRequest) (*ecsapi.RegisterTaskDefinitionResponse, error) {
	def, err := validateTaskDefinition(in)
	if err != nil {
		return nil, err
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	by := s.callerARN(ctx)
	famKey := s.familyKey(in.Family)
	// floor is a revision found taken although the counter was below it (a
	// counter lost or restored from an older backup): counting resumes above.
	floor := 0
	for attempt := 0; attempt < registerAttempts; attempt++ {
		fam := familyRecord{Family: in.Family}
		var expect int64
		switch kv, err := s.st.Get(ctx, famKey); {
		case err == nil:
			if err := json.Unmarshal(kv.Value, &fam); err != nil {
				return nil, fmt.Errorf("decoding family %s: %w", in.Family, err)
			}
			expect = kv.ModRevision
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
		if fam.LastRevision >= maxRevisionsPerFamily {
			return nil, clientErr("The task definition family %s has reached the limit of %d revisions.", in.Family, maxRevisionsPerFamily)
		}
		fam.LastRevision = max(fam.LastRevision, floor) + 1
		rec := taskDefRecord{
			Family: in.Family, Revision: fam.LastRevision, Status: taskDefActive,
			RegisteredAt: s.now(), RegisteredBy: by, Def: *def,
		}
		arn := s.taskDefARN(in.Family, rec.Revision)
		rec.Def.TaskDefinitionArn = ptr(arn)
		rec.Def.Revision = ptr(int32(rec.Revision))
		famJSON, _ := json.Marshal(fam)
		recJSON, err := json.Marshal(rec)
		if err != nil {
			return nil, fmt.Errorf("encoding task definition %s: %w", arn, err)
		}
		revKey := s.taskDefKey(in.Family, rec.Revision)
		rev, err := s.st.Txn(ctx,
			store.Op{Key: famKey, Value: famJSON, ExpectRev: expect},
			store.Op{Key: revKey, Value: recJSON},
			s.tagsOp(arn, in.Tags),
		)
		if ce := (*store.ConflictError)(nil); errors.As(err, &ce) {
			if ce.Key == revKey {
				floor = rec.Revision
			}
			continue // another registration took this revision: count again
		}
		if err != nil {
			return nil, err
		}
		if err := s.synced(ctx, rev); err != nil {
			return nil, err
		}
		return &ecsapi.RegisterTaskDefinitionResponse{TaskDefinition: s.taskDefView(rec), Tags: in.Tags}, nil
	}
	return nil, ecsapi.NewServerException("Too many concurrent registrations of task definition family %s; retry.", in.Family)
}

// DescribeTaskDefinition implements ecsapi.Handler.
func (s *Server) DescribeTaskDefinition(ctx context.Context, in *ecsapi.DescribeTaskDefinitionRequest) (*ecsapi.DescribeTaskDefinitionResponse, error) {
	rec, err := s.resolveTaskDef(in.TaskDefinition)
	if err != nil {
		return nil, err
	}
	out := &ecsapi.DescribeTaskDefinitionResponse{TaskDefinition: s.taskDefView(rec)}
	for _, f := range in.Include {
		if f == ecsapi.TaskDefinitionFieldTags {
			out.Tags = nonNil(s.tagsOf(*out.TaskDefinition.TaskDefinitionArn))
		}
	}
	return out, nil
}

// revisionRef parses a reference that must name one revision (Deregister,
// Delete): a bare family is refused.
func (s *Server) revisionRef(ref string) (taskDefRef, error) {
	r, ok := s.parseTaskDefRef(ref)
	switch {
	case !ok:
		return taskDefRef{}, clientErr("Invalid task definition %q: specify family:revision or a full task definition ARN.", ref)
	case r.rev == 0:
		return taskDefRef{}, clientErr("Invalid task definition %q: a revision is required (family:revision or a full ARN).", ref)
	}
	return r, nil
}

// DeregisterTaskDefinition implements ecsapi.Handler: ACTIVE -> INACTIVE.
// Deregistering a revision that is no longer ACTIVE returns it unchanged.
func (s *Server) DeregisterTaskDefinition(ctx context.Context, in *ecsapi.DeregisterTaskDefinitionRequest) (*ecsapi.DeregisterTaskDefinitionResponse, error) {
	ref, err := s.revisionRef(in.TaskDefinition)
	if err != nil {
		return nil, err
	}
	now := s.now()
	rec, rev, err := store.UpdateJSON(ctx, s.st, s.taskDefKey(ref.family, ref.rev), func(cur *taskDefRecord, exists bool) (*taskDefRecord, error) {
		if !exists {
			return nil, clientErr("The specified task definition does not exist: %s.", s.taskDefARN(ref.family, ref.rev))
		}
		if cur.Status != taskDefActive {
			return nil, nil
		}
		cur.Status, cur.DeregisteredAt = taskDefInactive, now
		return cur, nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.synced(ctx, rev); err != nil {
		return nil, err
	}
	return &ecsapi.DeregisterTaskDefinitionResponse{TaskDefinition: s.taskDefView(rec)}, nil
}

// DeleteTaskDefinitions implements ecsapi.Handler: INACTIVE ->
// DELETE_IN_PROGRESS, with a failure entry for every reference that is
// invalid, unknown or still ACTIVE. A DELETE_IN_PROGRESS revision stays
// stored and describable; removing it once no task or service references it
// belongs to a later garbage collector, which must keep the family counter.
func (s *Server) DeleteTaskDefinitions(ctx context.Context, in *ecsapi.DeleteTaskDefinitionsRequest) (*ecsapi.DeleteTaskDefinitionsResponse, error) {
	switch n := len(in.TaskDefinitions); {
	case n == 0:
		return nil, invalidParam("taskDefinitions should not be empty.")
	case n > 10:
		return nil, invalidParam("DeleteTaskDefinitions accepts at most 10 task definitions; %d were given.", n)
	}
	out := &ecsapi.DeleteTaskDefinitionsResponse{TaskDefinitions: []ecsapi.TaskDefinition{}, Failures: []ecsapi.Failure{}}
	fail := func(arn, reason string, detail *string) {
		out.Failures = append(out.Failures, ecsapi.Failure{Arn: ptr(arn), Reason: ptr(reason), Detail: detail})
	}
	now := s.now()
	var last int64
	done := map[string]bool{}
	for _, raw := range in.TaskDefinitions {
		ref, ok := s.parseTaskDefRef(raw)
		if !ok || ref.rev == 0 {
			fail(raw, "The specified task definition identifier is invalid. Specify a valid name or ARN and try again.",
				ptr("A revision is required: use family:revision or a full task definition ARN."))
			continue
		}
		arn := s.taskDefARN(ref.family, ref.rev)
		if done[arn] {
			continue
		}
		done[arn] = true
		var active bool
		rec, rev, err := store.UpdateJSON(ctx, s.st, s.taskDefKey(ref.family, ref.rev), func(cur *taskDefRecord, exists bool) (*taskDefRecord, error) {
			active = false
			switch {
			case !exists:
				return nil, store.ErrNotFound
			case cur.Status == taskDefActive:
				active = true
				return nil, nil
			case cur.Status == taskDefDeleteInProgress:
				return nil, nil
			}
			cur.Status, cur.DeleteRequestedAt = taskDefDeleteInProgress, now
			return cur, nil
		})
		switch {
		case errors.Is(err, store.ErrNotFound):
			fail(arn, "The specified task definition does not exist. Specify a valid account, family, revision and try again.", nil)
			continue
		case err != nil:
			return nil, err
		case active:
			fail(arn, "The specified task definition is still in ACTIVE status. Please deregister the target and try again.", nil)
			continue
		}
		last = max(last, rev)
		out.TaskDefinitions = append(out.TaskDefinitions, *s.taskDefView(rec))
	}
	if last > 0 {
		if err := s.synced(ctx, last); err != nil {
			return nil, err
		}
	}
	return out, nil
}
