package ecs

import (
	"context"
	"errors"
	"strings"
	"time"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/store"
)

// Task scale-in protection (UpdateTaskProtection, GetTaskProtection): the
// expiry is stored on the task spec (ProtectedUntil); a protected task whose
// expiry has not passed is never stopped by a service's scale-in or
// deployment (internal/service/plan).

const (
	maxProtectionUpdate     = 10
	maxProtectionGet        = 100
	defaultProtectionExpiry = 120 // minutes
	maxProtectionExpiry     = 2880
	reasonTaskNotValid      = "TASK_NOT_VALID"
)

// protectedUntil is the spec's protection expiry, or zero once it passed.
func protectedUntil(spec taskSpecRecord, now time.Time) time.Time {
	if spec.ProtectedUntil.After(now) {
		return spec.ProtectedUntil
	}
	return time.Time{}
}

func (s *Server) protectedTaskView(spec taskSpecRecord, now time.Time) ecsapi.ProtectedTask {
	pt := ecsapi.ProtectedTask{TaskArn: ptr(s.taskARN(spec.Cluster, spec.ID)), ProtectionEnabled: ptr(false)}
	if until := protectedUntil(spec, now); !until.IsZero() {
		pt.ProtectionEnabled = ptr(true)
		pt.ExpirationDate = awsapiTime(until)
	}
	return pt
}

// missingTask is the failure for a task reference that names no task
// of the cluster.
func (s *Server) missingTask(cluster, ref string) ecsapi.Failure {
	arn := ref
	if !strings.HasPrefix(ref, "arn:") {
		arn = s.taskARN(cluster, ref)
	}
	return ecsapi.Failure{Arn: ptr(arn), Reason: ptr(reasonMissing)}
}

// UpdateTaskProtection implements ecsapi.Handler: it turns protection on
// (for expiresInMinutes, default 120, counted from now: a repeated call
// extends it) or off. Only tasks of a service can be protected.
func (s *Server) UpdateTaskProtection(ctx context.Context, in *ecsapi.UpdateTaskProtectionRequest) (*ecsapi.UpdateTaskProtectionResponse, error) {
	c, err := s.activeCluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	if len(in.Tasks) == 0 {
		return nil, invalidParam("Tasks cannot be empty.")
	}
	if len(in.Tasks) > maxProtectionUpdate {
		return nil, invalidParam("UpdateTaskProtection accepts at most %d tasks; %d were given.", maxProtectionUpdate, len(in.Tasks))
	}
	minutes := int32(defaultProtectionExpiry)
	if in.ExpiresInMinutes != nil {
		minutes = *in.ExpiresInMinutes
		if minutes < 1 || minutes > maxProtectionExpiry {
			return nil, invalidParam("expiresInMinutes must be between 1 and %d.", maxProtectionExpiry)
		}
	}
	out := &ecsapi.UpdateTaskProtectionResponse{ProtectedTasks: []ecsapi.ProtectedTask{}, Failures: []ecsapi.Failure{}}
	var last int64
	for _, ref := range in.Tasks {
		id, ok := s.taskID(c.Name, ref)
		if !ok {
			out.Failures = append(out.Failures, s.missingTask(c.Name, ref))
			continue
		}
		now := s.now()
		var notValid bool
		spec, rev, err := store.UpdateJSON(ctx, s.st, s.taskSpecKey(c.Name, id), func(cur *taskSpecRecord, exists bool) (*taskSpecRecord, error) {
			notValid = false
			if !exists {
				return nil, nil
			}
			if !isServiceGroup(cur.Group) {
				notValid = true
				return nil, nil
			}
			until := time.Time{}
			if in.ProtectionEnabled {
				until = now.Add(time.Duration(minutes) * time.Minute)
			}
			if cur.ProtectedUntil.Equal(until) {
				return nil, nil
			}
			cur.ProtectedUntil = until
			return cur, nil
		})
		if err != nil {
			return nil, err
		}
		switch {
		case rev == 0:
			out.Failures = append(out.Failures, s.missingTask(c.Name, ref))
			continue
		case notValid:
			out.Failures = append(out.Failures, ecsapi.Failure{Arn: ptr(s.taskARN(c.Name, id)), Reason: ptr(reasonTaskNotValid),
				Detail: ptr("The task is not part of a service. Only tasks of a service can be protected.")})
			continue
		}
		last = max(last, rev)
		out.ProtectedTasks = append(out.ProtectedTasks, s.protectedTaskView(spec, now))
	}
	if last > 0 {
		if err := s.synced(ctx, last); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// GetTaskProtection implements ecsapi.Handler.
func (s *Server) GetTaskProtection(ctx context.Context, in *ecsapi.GetTaskProtectionRequest) (*ecsapi.GetTaskProtectionResponse, error) {
	c, err := s.activeCluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	if len(in.Tasks) > maxProtectionGet {
		return nil, invalidParam("GetTaskProtection accepts at most %d tasks; %d were given.", maxProtectionGet, len(in.Tasks))
	}
	out := &ecsapi.GetTaskProtectionResponse{ProtectedTasks: []ecsapi.ProtectedTask{}, Failures: []ecsapi.Failure{}}
	now := s.now()
	for _, ref := range in.Tasks {
		id, ok := s.taskID(c.Name, ref)
		if !ok {
			out.Failures = append(out.Failures, s.missingTask(c.Name, ref))
			continue
		}
		spec, err := s.freshSpec(ctx, c.Name, id)
		if errors.Is(err, store.ErrNotFound) {
			out.Failures = append(out.Failures, s.missingTask(c.Name, ref))
			continue
		}
		if err != nil {
			return nil, err
		}
		if !isServiceGroup(spec.Group) {
			out.Failures = append(out.Failures, ecsapi.Failure{Arn: ptr(s.taskARN(c.Name, id)), Reason: ptr(reasonTaskNotValid),
				Detail: ptr("The task is not part of a service.")})
			continue
		}
		out.ProtectedTasks = append(out.ProtectedTasks, s.protectedTaskView(spec, now))
	}
	return out, nil
}
