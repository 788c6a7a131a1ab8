package cql

import (
	"slices"
	"time"
)

// Static is a plain Instance, for callers that hold instances as values and
// for tests.
type Static struct {
	Attributes   map[string]string
	EC2ID        string
	Connected    bool
	Version      string
	Registered   time.Time
	RunningTasks int
	Groups       []string // groups of the running tasks, each once
}

var _ Instance = (*Static)(nil)

// Attribute implements Instance.
func (s *Static) Attribute(name string) (string, bool) {
	v, ok := s.Attributes[name]
	return v, ok
}

// EC2InstanceID implements Instance.
func (s *Static) EC2InstanceID() string { return s.EC2ID }

// AgentConnected implements Instance.
func (s *Static) AgentConnected() bool { return s.Connected }

// AgentVersion implements Instance.
func (s *Static) AgentVersion() string { return s.Version }

// RegisteredAt implements Instance.
func (s *Static) RegisteredAt() time.Time { return s.Registered }

// RunningTasksCount implements Instance.
func (s *Static) RunningTasksCount() int { return s.RunningTasks }

// HasTaskGroup implements Instance.
func (s *Static) HasTaskGroup(g string) bool { return slices.Contains(s.Groups, g) }

// TaskGroups implements Instance.
func (s *Static) TaskGroups() []string { return s.Groups }
