package ecs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/berth-dev/berth/internal/agentproto"
	"github.com/berth-dev/berth/internal/awsapi"
	"github.com/berth-dev/berth/internal/store"
)

// The server side of the agent link (agentproto): one WebSocket per container
// instance. The link pushes the instance's desired task set whenever it
// changes (the store cache's subscription tells), tracks the agent's acks,
// exchanges heartbeats, and records whether the agent is connected. Desired
// state lives in etcd, so a server restart loses nothing: the agent
// reconnects (to any server) and gets the same payload again.

// LinkConfig configures the agent link.
type LinkConfig struct {
	// Verify checks the upgrade request's SigV4 signature (the edge's
	// awsapi.Server.VerifyRequest).
	Verify func(r *http.Request, body []byte) (awsapi.Principal, error)
	// Endpoint is the edge URL DiscoverPollEndpoint answers, e.g.
	// http://127.0.0.1:4566; agents connect to Endpoint+agentproto.Path.
	Endpoint string
	// Heartbeat is the heartbeat interval (default
	// agentproto.HeartbeatInterval); tests shorten it.
	Heartbeat time.Duration
}

// Link serves agent connections; mount it at agentproto.Path.
type Link struct {
	s   *Server
	cfg LinkConfig
	log *slog.Logger

	mu       sync.Mutex
	sessions map[string]*linkSession // by cluster + "/" + instance id
	closed   bool

	unsubscribe func()
	stopAfter   func() bool
}

// NewLink starts the agent link of s. It ends with Close, or when the store
// closes.
func (s *Server) NewLink(cfg LinkConfig) *Link {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = agentproto.HeartbeatInterval
	}
	l := &Link{s: s, cfg: cfg, log: s.log.With("component", "link"), sessions: map[string]*linkSession{}}
	l.unsubscribe = s.cache.Subscribe(l.onEvent)
	// The control plane closes the store last; hijacked WebSockets outlive
	// http.Server.Shutdown, so the store's end is the link's end too.
	l.stopAfter = context.AfterFunc(s.st.Client().Ctx(), l.Close)
	s.link.Store(l)
	return l
}

func (s *Server) linkEndpoint() string {
	if l := s.link.Load(); l != nil {
		return l.cfg.Endpoint
	}
	return ""
}

// Close ends every connection (telling agents to reconnect elsewhere) and
// stops serving new ones.
func (l *Link) Close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	sessions := make([]*linkSession, 0, len(l.sessions))
	for _, s := range l.sessions {
		sessions = append(sessions, s)
	}
	l.mu.Unlock()
	l.unsubscribe()
	l.stopAfter()
	l.s.link.CompareAndSwap(l, nil)
	for _, s := range sessions {
		s.refuse(agentproto.ErrShuttingDown, "The server is shutting down; reconnect.")
	}
}

// Acked returns the last payload sequence number the instance's agent
// acknowledged on this server (0 when it is not connected here).
func (l *Link) Acked(cluster, instanceID string) int64 {
	l.mu.Lock()
	s := l.sessions[cluster+"/"+instanceID]
	l.mu.Unlock()
	if s == nil {
		return 0
	}
	return s.acked.Load()
}

// onEvent pokes the session of every instance whose task set may have
// changed, and refuses the link of a deregistered instance.
func (l *Link) onEvent(ev store.Event) {
	parts, ok := store.SplitKey(ev.KV.Key)
	if !ok || len(parts) != 6 {
		return
	}
	kind, cluster, id := parts[3], parts[4], parts[5]
	switch kind {
	case "reservations":
		l.poke(cluster, id)
	case "taskspecs", "tasks":
		v := ev.KV.Value
		if ev.Type == store.EventDelete && ev.Prev != nil {
			v = ev.Prev.Value
		}
		var ref struct {
			InstanceID string `json:"containerInstanceId"`
		}
		if json.Unmarshal(v, &ref) == nil && ref.InstanceID != "" {
			l.poke(cluster, ref.InstanceID)
		}
	case "instances":
		if ev.Type == store.EventDelete {
			l.mu.Lock()
			s := l.sessions[cluster+"/"+id]
			l.mu.Unlock()
			if s != nil {
				s.refuse(agentproto.ErrInstanceNotFound, "The container instance was deregistered.")
			}
		}
	}
}

func (l *Link) poke(cluster, id string) {
	l.mu.Lock()
	s := l.sessions[cluster+"/"+id]
	l.mu.Unlock()
	if s != nil {
		select {
		case s.pokeC <- struct{}{}:
		default:
		}
	}
}

// ServeHTTP accepts an agent's connection: a SigV4-signed upgrade request
// naming the cluster and container instance.
func (l *Link) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, err := l.cfg.Verify(r, nil); err != nil {
		msg := err.Error()
		http.Error(w, msg, http.StatusForbidden)
		return
	}
	q := r.URL.Query()
	cluster, ok := l.s.clusterName(q.Get(agentproto.QueryCluster))
	if !ok {
		http.Error(w, "invalid cluster", http.StatusBadRequest)
		return
	}
	id, ok := l.s.instanceID(cluster, q.Get(agentproto.QueryContainerInstance))
	if !ok {
		http.Error(w, "invalid or missing containerInstance", http.StatusBadRequest)
		return
	}
	lastSeq, _ := strconv.ParseInt(q.Get(agentproto.QueryLastSeq), 10, 64)
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept answered the client
	}
	conn.SetReadLimit(4 << 20)
	s := &linkSession{
		l: l, cluster: cluster, id: id, arn: l.s.containerInstanceARN(cluster, id), conn: conn,
		connID: newID(), version: q.Get(agentproto.QueryAgentVersion), seq: lastSeq,
		pokeC: make(chan struct{}, 1), refuseC: make(chan agentproto.Error, 1),
	}
	s.heard.Store(time.Now().UnixNano())
	if _, err := l.s.st.Get(r.Context(), l.s.instanceKey(cluster, id)); err != nil {
		s.refuse(agentproto.ErrInstanceNotFound, "The container instance is not registered in cluster "+cluster+".")
		s.closeWithError()
		return
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		s.refuse(agentproto.ErrShuttingDown, "The server is shutting down; reconnect.")
		s.closeWithError()
		return
	}
	old := l.sessions[cluster+"/"+id]
	l.sessions[cluster+"/"+id] = s
	l.mu.Unlock()
	if old != nil {
		old.refuse(agentproto.ErrReplaced, "A newer connection of this container instance took over.")
	}
	// A deregistration between the check above and the insert fired its
	// event before this session was listed: look again now that it is.
	if _, err := l.s.st.Get(r.Context(), l.s.instanceKey(cluster, id)); errors.Is(err, store.ErrNotFound) {
		s.refuse(agentproto.ErrInstanceNotFound, "The container instance is not registered in cluster "+cluster+".")
	}
	s.run()
}

// linkSession is one agent connection.
type linkSession struct {
	l                *Link
	cluster, id, arn string
	conn             *websocket.Conn
	connID, version  string
	pokeC            chan struct{}
	refuseC          chan agentproto.Error
	refusedOnce      sync.Once
	heard            atomic.Int64 // unix nanos of the last message from the agent
	acked            atomic.Int64
	// Written by the session's run goroutine only.
	seq         int64
	lastTasks   []byte
	sentInitial bool
}

func (s *linkSession) logger() *slog.Logger {
	return s.l.log.With("cluster", s.cluster, "instance", s.id)
}

// refuse asks the session to send err and close (once).
func (s *linkSession) refuse(code, msg string) {
	s.refusedOnce.Do(func() {
		s.refuseC <- agentproto.Error{Code: code, Message: msg}
	})
}

// closeWithError sends the pending refusal and closes (for sessions that
// never ran).
func (s *linkSession) closeWithError() {
	select {
	case e := <-s.refuseC:
		s.sendError(e)
	default:
	}
	s.conn.CloseNow()
}

func (s *linkSession) sendError(e agentproto.Error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.l.cfg.Heartbeat)
	defer cancel()
	_ = wsjson.Write(ctx, s.conn, agentproto.Envelope{Type: agentproto.TypeError, Error: &e})
	_ = s.conn.Close(websocket.StatusPolicyViolation, e.Code)
}

// run serves the connection until it ends: the reader goroutine takes acks,
// heartbeats and health reports; this goroutine writes payloads and
// heartbeats and watches the agent's liveness.
func (s *linkSession) run() {
	hb := s.l.cfg.Heartbeat
	log := s.logger()
	ctx, cancel := context.WithCancel(context.Background())
	defer func() {
		cancel()
		s.conn.CloseNow()
		s.l.mu.Lock()
		if s.l.sessions[s.cluster+"/"+s.id] == s {
			delete(s.l.sessions, s.cluster+"/"+s.id)
		}
		s.l.mu.Unlock()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		if err := s.l.s.markDisconnected(sctx, s.cluster, s.id, s.connID); err != nil && !errors.Is(err, context.Canceled) {
			log.Debug("marking the agent disconnected", "err", err)
		}
		log.Info("agent link closed")
	}()
	if err := s.l.s.markConnected(ctx, s.cluster, s.id, s.connID, s.version, hb); err != nil {
		log.Warn("marking the agent connected", "err", err)
		return
	}
	log.Info("agent link open", "lastSeq", s.seq)
	go s.read(ctx, cancel)
	if !s.sendPayload(ctx) {
		return
	}
	tick := time.NewTicker(hb)
	defer tick.Stop()
	for ticks := 1; ; ticks++ {
		select {
		case <-ctx.Done():
			return
		case e := <-s.refuseC:
			s.sendError(e)
			return
		case <-s.pokeC:
			if !s.sendPayload(ctx) {
				return
			}
		case <-tick.C:
			if silent := time.Since(time.Unix(0, s.heard.Load())); silent > agentproto.MissedHeartbeats*hb {
				log.Warn("agent missed heartbeats; closing the link", "silent", silent)
				_ = s.conn.Close(websocket.StatusGoingAway, "missed heartbeats")
				return
			}
			if !s.write(ctx, agentproto.TypeHeartbeat, agentproto.Envelope{Type: agentproto.TypeHeartbeat, Heartbeat: &agentproto.Heartbeat{SentAt: time.Now().UTC()}}) {
				return
			}
			if ticks%agentproto.MissedHeartbeats == 0 {
				ok, err := s.l.s.refreshConnected(ctx, s.cluster, s.id, s.connID, hb)
				if err != nil && ctx.Err() == nil {
					log.Warn("refreshing the agent connection record failed; it expires unless a later refresh succeeds", "err", err)
				}
				if err == nil && !ok {
					log.Info("another connection of the instance took over")
					return
				}
			}
		}
	}
}

// write sends msg (an envelope of the given type) within a heartbeat.
func (s *linkSession) write(ctx context.Context, typ string, msg any) bool {
	wctx, cancel := context.WithTimeout(ctx, s.l.cfg.Heartbeat)
	defer cancel()
	if err := wsjson.Write(wctx, s.conn, msg); err != nil {
		s.logger().Debug("link write failed", "type", typ, "err", err)
		return false
	}
	return true
}

// read handles the agent's messages until the connection fails.
func (s *linkSession) read(ctx context.Context, cancel context.CancelFunc) {
	defer cancel()
	for {
		var env agentproto.Envelope
		if err := wsjson.Read(ctx, s.conn, &env); err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) && ctx.Err() == nil {
				s.logger().Debug("link read failed", "err", err)
			}
			return
		}
		s.heard.Store(time.Now().UnixNano())
		switch env.Type {
		case agentproto.TypeAck:
			if env.Ack != nil {
				for {
					cur := s.acked.Load()
					if env.Ack.Seq <= cur || s.acked.CompareAndSwap(cur, env.Ack.Seq) {
						break
					}
				}
			}
		case agentproto.TypeHealth:
			if env.Health != nil {
				hctx, hcancel := context.WithTimeout(ctx, 10*time.Second)
				if err := s.l.s.applyHealth(hctx, s.cluster, s.id, *env.Health); err != nil {
					s.logger().Warn("recording a health report", "task", env.Health.TaskARN, "err", err)
				}
				hcancel()
			}
		}
	}
}

// sendPayload sends the instance's desired task set if it differs from the
// last one sent (always on the first call).
func (s *linkSession) sendPayload(ctx context.Context) bool {
	b := s.l.s.payloadTasks(s.cluster, s.id)
	if s.sentInitial && bytes.Equal(b, s.lastTasks) {
		return true
	}
	s.seq++
	if !s.write(ctx, agentproto.TypePayload, agentproto.EncodedEnvelope{Type: agentproto.TypePayload,
		Payload: &agentproto.EncodedPayload{Seq: s.seq, Tasks: b, ContainerInstanceARN: s.arn}}) {
		return false
	}
	s.sentInitial, s.lastTasks = true, b
	return true
}

// payloadTasks is the payload of an instance, encoded (a JSON array of
// agentproto.TaskSpec): every task placed on it that has not stopped yet,
// with its effective desired status. The payload is built again whenever
// anything of the instance's tasks changes (most changes, such as a task
// reported RUNNING, leave it as it was), so each task's encoding is kept
// by its spec's revision and the part of its status the payload shows.
func (s *Server) payloadTasks(cluster, id string) []byte {
	r, _ := memoJSON[reservationRecord](s, s.reservationsKey(cluster, id))
	ids := make([]string, 0, len(r.Tasks))
	for tid := range r.Tasks {
		ids = append(ids, tid)
	}
	slices.Sort(ids)
	out := append(make([]byte, 0, 4096), '[')
	for _, tid := range ids {
		skv, ok := s.cache.Get(s.taskSpecKey(cluster, tid))
		if !ok {
			continue
		}
		st, _ := memoJSON[taskStatusRecord](s, s.taskStatusKey(cluster, tid))
		if st.LastStatus == taskStopped {
			continue
		}
		b, ok := s.taskWire(cluster, tid, skv, st)
		if !ok {
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, b...)
	}
	return append(out, ']')
}

// wireCache keeps each live task's encoded agentproto.TaskSpec.
type wireCache struct {
	mu sync.Mutex
	m  map[string]taskWire // by task spec key
}

type taskWire struct {
	specRev int64
	stop    string // the status's part of the TaskSpec (its stop request)
	b       []byte
}

// taskWire is task tid's encoded TaskSpec given its spec (cached value) and
// status.
func (s *Server) taskWire(cluster, tid string, skv store.KV, st taskStatusRecord) ([]byte, bool) {
	stop := ""
	if st.Stop != nil {
		stop = st.Stop.At.Format(time.RFC3339Nano) + "|" + st.Stop.Reason
	}
	wc := &s.wire
	wc.mu.Lock()
	w, ok := wc.m[skv.Key]
	wc.mu.Unlock()
	if ok && w.specRev == skv.ModRevision && w.stop == stop {
		return w.b, true
	}
	var spec taskSpecRecord
	if json.Unmarshal(skv.Value, &spec) != nil {
		return nil, false
	}
	ts := agentproto.TaskSpec{
		TaskARN: s.taskARN(cluster, tid), ClusterARN: s.clusterARN(cluster),
		DesiredStatus: desiredStatus(spec, st), Version: spec.Version,
		Definition: spec.Def, Overrides: spec.Overrides, CreatedAt: spec.CreatedAt,
		ContainerARNs: map[string]string{}, AvailabilityZone: spec.AvailabilityZone,
		LaunchType: spec.LaunchType, Group: spec.Group, StartedBy: spec.StartedBy,
		CPU: spec.CPU, Memory: spec.Memory,
	}
	if st.Stop != nil {
		ts.Version++ // the task's own stop changes what the agent must do
	}
	if stop := effectiveStop(spec, st); stop != nil {
		ts.StoppedReason = stop.Reason
	}
	for name, cid := range spec.ContainerIDs {
		ts.ContainerARNs[name] = s.containerARN(cluster, tid, cid)
	}
	if spec.Network != nil {
		n := spec.Network.TaskNetwork
		ts.Network = &n
	}
	b, err := json.Marshal(ts)
	if err != nil {
		return nil, false
	}
	wc.mu.Lock()
	if wc.m == nil || len(wc.m) >= memoLimit {
		wc.m = map[string]taskWire{} // entries of stopped tasks go too
	}
	wc.m[skv.Key] = taskWire{specRev: skv.ModRevision, stop: stop, b: b}
	wc.mu.Unlock()
	return b, true
}
