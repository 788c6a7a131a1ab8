package ecs

import (
	"encoding/json"
	"reflect"
	"sync"

	"github.com/berth-dev/berth/internal/store"
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
	m  map[memoKey]memoEntry
}

// memoKey is a key and the type its value was decoded into: one key may be
// read as several types (a task spec's group, or the whole spec).
type memoKey struct {
	key string
	typ reflect.Type
}

type memoEntry struct {
	rev int64
	v   any
}

// memoized returns decode(raw), reusing the value decoded for key at rev.
func memoized[T any](m *memo, key string, rev int64, raw []byte, decode func([]byte) (T, bool)) (T, bool) {
	k := memoKey{key, reflect.TypeFor[T]()}
	m.mu.Lock()
	e, ok := m.m[k]
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
		m.m = map[memoKey]memoEntry{}
	}
	m.m[k] = memoEntry{rev: rev, v: v}
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
	return s.specInfoAt(s.taskSpecKey(cluster, id))
}

// lastStatusOf is the cached status's lastStatus.
func (s *Server) lastStatusOf(cluster, id string) (string, bool) {
	return s.lastStatusAt(s.taskStatusKey(cluster, id))
}

// resView is a reservations record with the cache keys of its tasks'
// status and spec, built once per revision, and what placement last decoded
// of each (by mod revision).
type resView struct {
	rec   reservationRecord
	ids   []string
	keys  []string // status keys of ids, then their spec keys
	slots *taskSlots
}

// taskSlots remembers the decoded status and spec info of a record's tasks.
type taskSlots struct {
	mu        sync.Mutex
	statusRev []int64
	status    []string
	specRev   []int64
	spec      []specInfo
	kvs       []store.KV
	found     []bool
}

// reservationView decodes a reservations record of cluster (memoized;
// shared: read only).
func (s *Server) reservationView(cluster, key string, rev int64, raw []byte) (resView, bool) {
	return memoized(&s.memo, key, rev, raw, func(b []byte) (resView, bool) {
		var v resView
		if json.Unmarshal(b, &v.rec) != nil {
			return v, false
		}
		if v.rec.Tasks == nil {
			v.rec.Tasks = map[string]taskReservation{}
		}
		for id := range v.rec.Tasks {
			v.ids = append(v.ids, id)
			v.keys = append(v.keys, s.taskStatusKey(cluster, id))
		}
		for _, id := range v.ids {
			v.keys = append(v.keys, s.taskSpecKey(cluster, id))
		}
		n := len(v.ids)
		v.slots = &taskSlots{statusRev: make([]int64, n), status: make([]string, n), specRev: make([]int64, n), spec: make([]specInfo, n)}
		return v, true
	})
}

// load is usageOf and taskGroupsOf of a record in one pass over its tasks,
// their status and spec read from the cache under one lock and decoded
// only when their revision changed.
func (s *Server) load(v resView) (usage, map[string]int) {
	var u usage
	groups := map[string]int{}
	sl := v.slots
	sl.mu.Lock()
	defer sl.mu.Unlock()
	sl.kvs, sl.found = s.cache.GetMany(v.keys, sl.kvs, sl.found)
	n := len(v.ids)
	for i, id := range v.ids {
		st, ok := "", sl.found[i]
		if ok {
			kv := sl.kvs[i]
			if sl.statusRev[i] != kv.ModRevision {
				var d struct {
					LastStatus string `json:"lastStatus"`
				}
				_ = json.Unmarshal(kv.Value, &d)
				sl.status[i], sl.statusRev[i] = d.LastStatus, kv.ModRevision
			}
			st = sl.status[i]
		}
		if ok && st == taskStopped {
			continue
		}
		u.add(v.rec.Tasks[id], ok && st == taskRunning)
		if !sl.found[n+i] {
			continue
		}
		kv := sl.kvs[n+i]
		if sl.specRev[i] != kv.ModRevision {
			var d specInfo
			_ = json.Unmarshal(kv.Value, &d)
			sl.spec[i], sl.specRev[i] = d, kv.ModRevision
		}
		if sl.spec[i].DesiredState != taskStopped {
			groups[sl.spec[i].Group]++
		}
	}
	return u, groups
}

// memoJSON decodes the cached value at key into a T (memoized; shared:
// read only).
func memoJSON[T any](s *Server, key string) (T, bool) {
	kv, ok := s.cache.Get(key)
	if !ok {
		var zero T
		return zero, false
	}
	return memoized(&s.memo, key, kv.ModRevision, kv.Value, func(b []byte) (T, bool) {
		var v T
		return v, json.Unmarshal(b, &v) == nil
	})
}

func (s *Server) specInfoAt(key string) (specInfo, bool) { return memoJSON[specInfo](s, key) }

func (s *Server) lastStatusAt(key string) (string, bool) {
	v, ok := memoJSON[struct {
		LastStatus string `json:"lastStatus"`
	}](s, key)
	return v.LastStatus, ok
}

// attributeMap is an instance's attributes (under key) as a map
// (memoized; shared: read only).
func (s *Server) attributeMap(key string) map[string]string {
	kv, ok := s.cache.Get(key)
	if !ok {
		return map[string]string{}
	}
	m, _ := memoized(&s.memo, key, kv.ModRevision, kv.Value, func(b []byte) (map[string]string, bool) {
		var attrs []storedAttribute
		_ = json.Unmarshal(b, &attrs)
		m := make(map[string]string, len(attrs))
		for _, a := range attrs {
			m[a.Name] = a.Value
		}
		return m, true
	})
	return m
}

// instView is an instance record with what placement derives from it
// alone (memoized per revision; shared: read only, Ports and PortsUDP
// included).
type instView struct {
	rec                    instanceRecord
	arn, attrsKey, connKey string
	cpu, memory            int64
	ports, portsUDP        map[int32]bool
}

func (s *Server) placementView(cluster string, kv store.KV) (instView, bool) {
	return memoized(&s.memo, kv.Key, kv.ModRevision, kv.Value, func(b []byte) (instView, bool) {
		var v instView
		if json.Unmarshal(b, &v.rec) != nil {
			return v, false
		}
		id := v.rec.ID
		v.arn, v.attrsKey, v.connKey = s.containerInstanceARN(cluster, id), s.attributesKey(cluster, id), s.agentConnKey(cluster, id)
		v.cpu, v.memory = resourceValue(v.rec.Registered, "CPU"), resourceValue(v.rec.Registered, "MEMORY")
		v.ports, v.portsUDP = resourcePorts(v.rec.Registered, "PORTS"), resourcePorts(v.rec.Registered, "PORTS_UDP")
		return v, true
	})
}
