package ecs

import (
	"context"
	"time"

	"github.com/berth-dev/berth/internal/agentproto"
	"github.com/berth-dev/berth/internal/store"
)

// agentConnRecord is whether a container instance's agent holds a link, under
// agents/<cluster>/<id>. The server holding the connection is its only
// writer (registration never touches it; deregistration deletes it). A
// server that dies cannot write "disconnected", so a connected record also
// says until when it is valid: the holder refreshes it every few heartbeats,
// and readers treat an expired one as disconnected.
type agentConnRecord struct {
	Connected    bool      `json:"connected"`
	ConnID       string    `json:"connId,omitempty"`
	AgentVersion string    `json:"agentVersion,omitempty"`
	ConnectedAt  time.Time `json:"connectedAt,omitzero"`
	ChangedAt    time.Time `json:"changedAt,omitzero"` // last connect or disconnect
	RefreshedAt  time.Time `json:"refreshedAt,omitzero"`
	ExpiresAt    time.Time `json:"expiresAt,omitzero"`
}

// live reports whether the agent is connected as of now.
func (r agentConnRecord) live(now time.Time) bool { return r.Connected && now.Before(r.ExpiresAt) }

func (s *Server) agentConnKey(cluster, id string) string { return s.key("agents", cluster, id) }

func (s *Server) agentConn(cluster, id string) (agentConnRecord, bool) {
	r, _, err := store.GetCachedJSON[agentConnRecord](s.cache, s.agentConnKey(cluster, id))
	return r, err == nil
}

// connValidity is how long a connected record stays valid without a refresh:
// two refresh periods of MissedHeartbeats heartbeats each.
func connValidity(heartbeat time.Duration) time.Duration {
	return 2 * agentproto.MissedHeartbeats * heartbeat
}

// markConnected records that connID now holds the instance's link (the
// newest connection wins).
func (s *Server) markConnected(ctx context.Context, cluster, id, connID, version string, heartbeat time.Duration) error {
	_, rev, err := store.UpdateJSON(ctx, s.st, s.agentConnKey(cluster, id), func(cur *agentConnRecord, exists bool) (*agentConnRecord, error) {
		now := s.now()
		if !cur.live(now) {
			cur.ChangedAt = now
		}
		*cur = agentConnRecord{Connected: true, ConnID: connID, AgentVersion: version, ConnectedAt: now,
			ChangedAt: cur.ChangedAt, RefreshedAt: now, ExpiresAt: now.Add(connValidity(heartbeat))}
		return cur, nil
	})
	if err != nil {
		return err
	}
	return s.synced(ctx, rev)
}

// refreshConnected extends connID's record; ok is false when another
// connection (possibly on another server) has taken over or the instance is
// gone.
func (s *Server) refreshConnected(ctx context.Context, cluster, id, connID string, heartbeat time.Duration) (bool, error) {
	ok := false
	_, _, err := store.UpdateJSON(ctx, s.st, s.agentConnKey(cluster, id), func(cur *agentConnRecord, exists bool) (*agentConnRecord, error) {
		ok = exists && cur.ConnID == connID && cur.Connected
		if !ok {
			return nil, nil
		}
		now := s.now()
		cur.RefreshedAt, cur.ExpiresAt = now, now.Add(connValidity(heartbeat))
		return cur, nil
	})
	return ok, err
}

// markDisconnected records that connID's link ended, unless a newer
// connection already took over (or the instance was deregistered).
func (s *Server) markDisconnected(ctx context.Context, cluster, id, connID string) error {
	_, rev, err := store.UpdateJSON(ctx, s.st, s.agentConnKey(cluster, id), func(cur *agentConnRecord, exists bool) (*agentConnRecord, error) {
		if !exists || cur.ConnID != connID || !cur.Connected {
			return nil, nil
		}
		now := s.now()
		cur.Connected, cur.ChangedAt, cur.RefreshedAt, cur.ExpiresAt = false, now, now, time.Time{}
		return cur, nil
	})
	if err != nil || rev == 0 {
		return err
	}
	return s.synced(ctx, rev)
}
