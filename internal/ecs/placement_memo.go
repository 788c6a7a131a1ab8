package ecs

import (
	"encoding/json"
	"sync"
)

// Placement reads every reservation record of a cluster and, for each task
// in them, its status and group: decoding those JSON values on every
// placement made the read grow with the number of tasks in the cluster. The
// memo keeps what placement needs of each value, decoded once per key and
// mod revision. Memoized values are shared: callers must not modify them.

// memoLimit bounds the memo; past it the memo starts over (live entries are
// decoded again on their next use, entries of deleted keys go).
const memoLimit = 1 << 18

// memo caches decoded store values by key and mod revision.
type memo struct {
	mu sync.Mutex
	m  map[string]memoEntry
}

type memoEntry struct {
	rev int64
	v   any
}

// memoized returns decode(raw), reusing the value decoded for key at rev.
func memoized[T any](m *memo, key string, rev int64, raw []byte, decode func([]byte) (T, bool)) (T, bool) {
	m.mu.Lock()
	e, ok := m.m[key]
	m.mu.Unlock()
	if ok && e.rev == rev {
		if v, ok := e.v.(T); ok {
			return v, true
		}
	}
	v, ok := decode(raw)
	if !ok {
		return v, false
	}
	m.mu.Lock()
	if m.m == nil || len(m.m) >= memoLimit {
		m.m = map[string]memoEntry{}
	}
	m.m[key] = memoEntry{rev: rev, v: v}
	m.mu.Unlock()
	return v, true
}

// specInfo is what placement reads of a task spec.
type specInfo struct {
	Group        string `json:"group"`
	DesiredState string `json:"desiredStatus"`
}

// taskSpecInfo is the cached spec's group and desired status.
func (s *Server) taskSpecInfo(cluster, id string) (specInfo, bool) {
	key := s.taskSpecKey(cluster, id)
	kv, ok := s.cache.Get(key)
	if !ok {
		return specInfo{}, false
	}
	return memoized(&s.memo, key, kv.ModRevision, kv.Value, func(b []byte) (specInfo, bool) {
		var v specInfo
		return v, json.Unmarshal(b, &v) == nil
	})
}

// lastStatusOf is the cached status's lastStatus.
func (s *Server) lastStatusOf(cluster, id string) (string, bool) {
	key := s.taskStatusKey(cluster, id)
	kv, ok := s.cache.Get(key)
	if !ok {
		return "", false
	}
	type statusInfo struct {
		LastStatus string `json:"lastStatus"`
	}
	v, ok := memoized(&s.memo, key, kv.ModRevision, kv.Value, func(b []byte) (statusInfo, bool) {
		var v statusInfo
		return v, json.Unmarshal(b, &v) == nil
	})
	return v.LastStatus, ok
}

// decodeReservations decodes a reservations record (memoized; shared).
func (s *Server) decodeReservations(key string, rev int64, raw []byte) (reservationRecord, bool) {
	return memoized(&s.memo, key, rev, raw, func(b []byte) (reservationRecord, bool) {
		var r reservationRecord
		if json.Unmarshal(b, &r) != nil {
			return r, false
		}
		if r.Tasks == nil {
			r.Tasks = map[string]taskReservation{}
		}
		return r, true
	})
}
