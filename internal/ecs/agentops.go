package ecs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/agentproto"
	"github.com/berth-dev/berth/internal/awsapi"
	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/store"
)

// The operations only agents call. They are the writers of the task status
// records (tasks/<cluster>/<id>): each report is applied so that a repeated
// or late report never moves a status backwards.

const ackReply = "ACK"

// DiscoverPollEndpoint implements ecsapi.Handler: the agent link lives on the
// edge itself, so every endpoint is the edge URL.
func (s *Server) DiscoverPollEndpoint(ctx context.Context, in *ecsapi.DiscoverPollEndpointRequest) (*ecsapi.DiscoverPollEndpointResponse, error) {
	c, err := s.activeCluster(deref(in.Cluster))
	if err != nil {
		return nil, err
	}
	if in.ContainerInstance != nil {
		// An agent whose instance was deregistered learns it here and
		// registers again.
		id, ok := s.instanceID(c.Name, *in.ContainerInstance)
		found := false
		if ok {
			_, found = s.cachedInstance(c.Name, id)
			if !found {
				_, err := s.st.Get(ctx, s.instanceKey(c.Name, id))
				found = err == nil
			}
		}
		if !found {
			return nil, invalidParam("The referenced container instance %s was not found in cluster %s.", *in.ContainerInstance, c.Name)
		}
	}
	ep := s.linkEndpoint()
	if ep == "" {
		return nil, ecsapi.NewServerException("The agent link is not enabled on this server.")
	}
	return &ecsapi.DiscoverPollEndpointResponse{Endpoint: ptr(ep), TelemetryEndpoint: ptr(ep), ServiceConnectEndpoint: ptr(ep)}, nil
}

// containerChange is one container report.
type containerChange struct {
	Name, RuntimeID, ImageDigest, Status, Reason string
	ExitCode                                     *int32
	Bindings                                     []ecsapi.NetworkBinding
}

// SubmitTaskStateChange implements ecsapi.Handler.
func (s *Server) SubmitTaskStateChange(ctx context.Context, in *ecsapi.SubmitTaskStateChangeRequest) (*ecsapi.SubmitTaskStateChangeResponse, error) {
	c, err := s.activeCluster(deref(in.Cluster))
	if err != nil {
		return nil, err
	}
	status := deref(in.Status)
	if status != "" && status != taskPending && status != taskRunning && status != taskStopped {
		return nil, invalidParam("Invalid task status %q: agents report PENDING, RUNNING or STOPPED.", status)
	}
	var changes []containerChange
	for _, cc := range in.Containers {
		ch := containerChange{Name: deref(cc.ContainerName), RuntimeID: deref(cc.RuntimeId), ImageDigest: deref(cc.ImageDigest),
			Status: deref(cc.Status), Reason: deref(cc.Reason), ExitCode: cc.ExitCode, Bindings: cc.NetworkBindings}
		if err := checkContainerStatus(ch.Status); err != nil {
			return nil, err
		}
		changes = append(changes, ch)
	}
	err = s.updateTaskStatus(ctx, c.Name, deref(in.Task), func(spec taskSpecRecord, st *taskStatusRecord, now time.Time) (bool, error) {
		changed := false
		for _, ch := range changes {
			ok, err := applyContainerChange(spec, st, ch, now)
			if err != nil {
				return false, err
			}
			changed = changed || ok
		}
		for _, a := range in.Attachments {
			id := a.AttachmentArn
			if i := strings.LastIndexByte(id, '/'); i >= 0 {
				id = id[i+1:]
			}
			if st.Attachments[id] != a.Status {
				if st.Attachments == nil {
					st.Attachments = map[string]string{}
				}
				st.Attachments[id] = a.Status
				changed = true
			}
		}
		setOnce := func(t *time.Time, v *awsapi.Time) {
			if v != nil && t.IsZero() && !v.IsZero() {
				*t = v.UTC().Truncate(time.Millisecond)
				changed = true
			}
		}
		setOnce(&st.PullStartedAt, in.PullStartedAt)
		setOnce(&st.PullStoppedAt, in.PullStoppedAt)
		if applyTaskChange(spec, st, status, deref(in.Reason), now) {
			changed = true
		}
		if st.LastStatus == taskStopped {
			setOnce(&st.ExecutionStoppedAt, in.ExecutionStoppedAt)
			if st.ExecutionStoppedAt.IsZero() {
				st.ExecutionStoppedAt = st.StoppedAt
			}
		}
		return changed, nil
	})
	if err != nil {
		return nil, err
	}
	return &ecsapi.SubmitTaskStateChangeResponse{Acknowledgment: ptr(ackReply)}, nil
}

// SubmitContainerStateChange implements ecsapi.Handler.
func (s *Server) SubmitContainerStateChange(ctx context.Context, in *ecsapi.SubmitContainerStateChangeRequest) (*ecsapi.SubmitContainerStateChangeResponse, error) {
	c, err := s.activeCluster(deref(in.Cluster))
	if err != nil {
		return nil, err
	}
	ch := containerChange{Name: deref(in.ContainerName), RuntimeID: deref(in.RuntimeId), Status: deref(in.Status),
		Reason: deref(in.Reason), ExitCode: in.ExitCode, Bindings: in.NetworkBindings}
	if err := checkContainerStatus(ch.Status); err != nil {
		return nil, err
	}
	err = s.updateTaskStatus(ctx, c.Name, deref(in.Task), func(spec taskSpecRecord, st *taskStatusRecord, now time.Time) (bool, error) {
		return applyContainerChange(spec, st, ch, now)
	})
	if err != nil {
		return nil, err
	}
	return &ecsapi.SubmitContainerStateChangeResponse{Acknowledgment: ptr(ackReply)}, nil
}

// SubmitAttachmentStateChanges implements ecsapi.Handler. Berth's awsvpc
// attachments are the control plane's own address allocations; reports are
// accepted and shown on the task that owns the attachment.
func (s *Server) SubmitAttachmentStateChanges(ctx context.Context, in *ecsapi.SubmitAttachmentStateChangesRequest) (*ecsapi.SubmitAttachmentStateChangesResponse, error) {
	if _, err := s.activeCluster(deref(in.Cluster)); err != nil {
		return nil, err
	}
	return &ecsapi.SubmitAttachmentStateChangesResponse{Acknowledgment: ptr(ackReply)}, nil
}

func checkContainerStatus(st string) error {
	switch st {
	case "", taskPending, taskRunning, taskStopped:
		return nil
	}
	return invalidParam("Invalid container status %q: agents report PENDING, RUNNING or STOPPED.", st)
}

// updateTaskStatus applies fn to a task's status record with a guarded write
// (nothing is written when fn reports no change) and waits for the cache.
func (s *Server) updateTaskStatus(ctx context.Context, cluster, ref string, fn func(spec taskSpecRecord, st *taskStatusRecord, now time.Time) (bool, error)) error {
	id, ok := s.taskID(cluster, ref)
	if !ok {
		return invalidParam("The referenced task was not found.")
	}
	spec, err := s.freshSpec(ctx, cluster, id)
	if errors.Is(err, store.ErrNotFound) {
		return invalidParam("The referenced task was not found.")
	}
	if err != nil {
		return err
	}
	_, rev, err := store.UpdateJSON(ctx, s.st, s.taskStatusKey(cluster, id), func(cur *taskStatusRecord, exists bool) (*taskStatusRecord, error) {
		if !exists {
			return nil, invalidParam("The referenced task was not found.")
		}
		changed, err := fn(spec, cur, s.now())
		if err != nil || !changed {
			return nil, err
		}
		cur.Version++
		return cur, nil
	})
	if err != nil || rev == 0 {
		return err
	}
	return s.synced(ctx, rev)
}

// applyTaskChange moves the task forward to status (never backwards) and
// records the timestamps and, for a task that stopped on its own, why.
func applyTaskChange(spec taskSpecRecord, st *taskStatusRecord, status, reason string, now time.Time) bool {
	if len(reason) > 1024 {
		reason = reason[:1024]
	}
	changed := false
	if status != "" && st.ConnectivityAt.IsZero() {
		st.ConnectivityAt = now
		changed = true
	}
	if statusRank(status) <= statusRank(st.LastStatus) {
		if reason != "" && st.Reason == "" {
			st.Reason = reason
			changed = true
		}
		return changed
	}
	st.LastStatus = status
	if reason != "" {
		st.Reason = reason
	}
	switch status {
	case taskRunning:
		st.StartedAt = now
	case taskStopped:
		st.StoppedAt = now
		if st.Stop == nil && spec.Stop == nil {
			st.Stop = selfStop(spec, st, reason, now)
		}
	}
	return true
}

// selfStop explains a task that stopped without anyone asking: it never
// started (TaskFailedToStart, with the failing container's reason) or an
// essential container exited.
func selfStop(spec taskSpecRecord, st *taskStatusRecord, reason string, now time.Time) *stopRequest {
	if st.StartedAt.IsZero() {
		if reason == "" {
			for _, c := range st.Containers {
				if c.Reason != "" {
					reason = c.Reason
					break
				}
			}
		}
		if reason == "" {
			reason = "Task failed to start"
		}
		return &stopRequest{Code: stopTaskFailedToStart, Reason: reason, At: now}
	}
	for _, c := range st.Containers {
		if c.LastStatus == taskStopped && essentialContainer(spec, c.Name) {
			return &stopRequest{Code: stopEssentialExited, Reason: essentialExitedReason, At: now}
		}
	}
	if reason != "" {
		return &stopRequest{Reason: reason, At: now}
	}
	return nil
}

// essentialContainer reports whether the named container is essential (the
// default).
func essentialContainer(spec taskSpecRecord, name string) bool {
	for i := range spec.Def.ContainerDefinitions {
		if deref(spec.Def.ContainerDefinitions[i].Name) == name {
			return essential(&spec.Def.ContainerDefinitions[i])
		}
	}
	return false
}

// applyContainerChange applies one container report: a newer status replaces
// the container's, the same status only fills what was missing, an older one
// is ignored. An essential container stopping asks the task to stop.
func applyContainerChange(spec taskSpecRecord, st *taskStatusRecord, ch containerChange, now time.Time) (bool, error) {
	cs := st.container(ch.Name)
	if cs == nil {
		return false, invalidParam("Container %q is not part of task %s.", ch.Name, st.ID)
	}
	if len(ch.Reason) > 1024 {
		ch.Reason = ch.Reason[:1024]
	}
	newer := statusRank(ch.Status) > statusRank(cs.LastStatus)
	same := ch.Status == "" || ch.Status == cs.LastStatus
	if !newer && !same {
		return false, nil
	}
	before := *cs
	fill := func(dst *string, v string) {
		if v != "" && (newer || *dst == "") {
			*dst = v
		}
	}
	fill(&cs.RuntimeID, ch.RuntimeID)
	fill(&cs.ImageDigest, ch.ImageDigest)
	fill(&cs.Reason, ch.Reason)
	if ch.ExitCode != nil && (newer || cs.ExitCode == nil) {
		cs.ExitCode = ptr(*ch.ExitCode)
	}
	if len(ch.Bindings) > 0 && (newer || len(cs.NetworkBindings) == 0) {
		cs.NetworkBindings = ch.Bindings
	}
	if newer {
		cs.LastStatus = ch.Status
	}
	changed := newer || !equalContainer(before, *cs)
	if newer && ch.Status == taskStopped && essentialContainer(spec, ch.Name) && st.Stop == nil && spec.Stop == nil && st.LastStatus != taskStopped {
		if st.StartedAt.IsZero() && ch.Reason != "" {
			st.Stop = &stopRequest{Code: stopTaskFailedToStart, Reason: ch.Reason, At: now}
		} else {
			st.Stop = &stopRequest{Code: stopEssentialExited, Reason: essentialExitedReason, At: now}
		}
	}
	return changed, nil
}

func equalContainer(a, b containerStatusRecord) bool {
	if a.RuntimeID != b.RuntimeID || a.ImageDigest != b.ImageDigest || a.Reason != b.Reason ||
		a.LastStatus != b.LastStatus || a.HealthStatus != b.HealthStatus || len(a.NetworkBindings) != len(b.NetworkBindings) {
		return false
	}
	if (a.ExitCode == nil) != (b.ExitCode == nil) || (a.ExitCode != nil && *a.ExitCode != *b.ExitCode) {
		return false
	}
	return true
}

// applyHealth records a health report from instance's link; reports for a
// task of another instance are ignored.
func (s *Server) applyHealth(ctx context.Context, cluster, instanceID string, h agentproto.HealthReport) error {
	id, ok := s.taskID(cluster, h.TaskARN)
	if !ok {
		return nil
	}
	spec, err := s.freshSpec(ctx, cluster, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && spec.InstanceID != instanceID) {
		return nil // a task swept since, or another instance's
	}
	if err != nil {
		return fmt.Errorf("reading task %s for a health report: %w", id, err)
	}
	return s.updateTaskStatus(ctx, cluster, id, func(spec taskSpecRecord, st *taskStatusRecord, now time.Time) (bool, error) {
		changed := false
		for name, v := range h.Containers {
			cs := st.container(name)
			if cs == nil || !ecsapi.HealthStatus(v).IsValid() || cs.HealthStatus == v {
				continue
			}
			cs.HealthStatus = v
			changed = true
		}
		if ecsapi.HealthStatus(h.Task).IsValid() && st.HealthStatus != h.Task {
			st.HealthStatus = h.Task
			changed = true
		}
		return changed, nil
	})
}
