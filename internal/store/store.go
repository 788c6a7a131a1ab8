package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Config selects and tunes the etcd behind a Store.
type Config struct {
	// DataDir holds the embedded etcd (DataDir/etcd) and etcd's zap logs
	// (DataDir/etcd.log). Required unless Endpoints is set; with Endpoints it
	// is optional and only receives the client's logs.
	DataDir string
	// Endpoints, when non-empty, are the client URLs of an existing etcd
	// cluster to use instead of embedding one.
	Endpoints []string
	// Logger receives the store's own messages (cache re-lists, watch
	// restarts). May be nil.
	Logger *slog.Logger

	// Embedded etcd only. Zero values pick the defaults.

	// Name is the member name (default "berth").
	Name string
	// ClientURL and PeerURL are the URLs to listen on and advertise, e.g.
	// "http://127.0.0.1:2379". Empty: 127.0.0.1 on a free port.
	ClientURL, PeerURL string
	// TickMs and ElectionMs are the raft heartbeat and election timeout
	// (default DefaultTickMs, DefaultElectionMs).
	TickMs, ElectionMs uint
	// CompactionRetention is the periodic auto-compaction window
	// (default DefaultCompactionRetention).
	CompactionRetention time.Duration
	// QuotaBytes is the backend quota (default DefaultQuotaBytes).
	QuotaBytes int64

	// DialTimeout bounds connecting to Endpoints (default 5s).
	DialTimeout time.Duration
}

// KV is one key as stored: the raw value and its revisions. CreateRevision is
// the revision that created the key, ModRevision the one that last wrote it
// (the value to pass as expectRev to guard the next write).
type KV struct {
	Key            string
	Value          []byte
	CreateRevision int64
	ModRevision    int64
}

var (
	// ErrConflict: a revision guard failed. The error is a *ConflictError
	// naming the key.
	ErrConflict = errors.New("store: revision conflict")
	// ErrNotFound: the key does not exist. A *ConflictError whose key does
	// not exist (it was deleted) matches ErrNotFound too.
	ErrNotFound = errors.New("store: not found")
	// ErrClosed: the Store was closed.
	ErrClosed = errors.New("store: closed")
)

// ConflictError is the error of a failed revision guard; it matches
// ErrConflict, and ErrNotFound when the key does not exist.
type ConflictError struct {
	Key       string
	ExpectRev int64 // the guard: 0 means "must not exist"
	ActualRev int64 // the key's mod revision when the write was refused; 0 if absent
}

func (e *ConflictError) Error() string {
	switch {
	case e.ExpectRev == 0:
		return fmt.Sprintf("store: revision conflict on %s: key already exists (mod revision %d)", e.Key, e.ActualRev)
	case e.ActualRev == 0:
		return fmt.Sprintf("store: revision conflict on %s: expected mod revision %d, key does not exist", e.Key, e.ExpectRev)
	default:
		return fmt.Sprintf("store: revision conflict on %s: expected mod revision %d, found %d", e.Key, e.ExpectRev, e.ActualRev)
	}
}

func (e *ConflictError) Unwrap() error { return ErrConflict }

func (e *ConflictError) Is(target error) bool {
	return target == ErrNotFound && e.ActualRev == 0 && e.ExpectRev != 0
}

// Store is the state store. It is safe for concurrent use.
type Store struct {
	log       *slog.Logger
	emb       *embedded // nil with external Endpoints
	extLog    *os.File  // client log file with external Endpoints
	client    *clientv3.Client
	endpoints []string

	// watchCtx carries the watch stream metadata shared by all caches (one
	// gRPC stream, so RequestProgress reaches all of them); cancelled by Close.
	watchCtx context.Context
	cancel   context.CancelFunc
	closed   chan struct{}
	wg       sync.WaitGroup // cache goroutines

	mu       sync.Mutex
	caches   map[string]*cacheSlot
	isClosed bool

	keyMu    sync.Mutex
	keyLocks map[string]*keyLock // UpdateJSON's in-process per-key locks

	closeOnce sync.Once
	closeErr  error
}

// Open starts the embedded etcd (or connects to cfg.Endpoints) and returns
// when it serves requests.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		log:      log.With("component", "store"),
		closed:   make(chan struct{}),
		caches:   make(map[string]*cacheSlot),
		keyLocks: make(map[string]*keyLock),
	}
	var zlg *zap.Logger
	if len(cfg.Endpoints) == 0 {
		start := time.Now()
		m, err := startEmbedded(ctx, cfg)
		if err != nil {
			return nil, err
		}
		s.emb = m
		s.endpoints = m.clients
		zlg = m.logger.Named("client")
		s.log.Debug("embedded etcd ready", "dir", cfg.DataDir, "endpoints", m.clients, "took", time.Since(start))
	} else {
		s.endpoints = slices.Clone(cfg.Endpoints)
		zlg = zap.NewNop()
		if cfg.DataDir != "" {
			if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
				return nil, fmt.Errorf("store: %w", err)
			}
			f, lg, err := openLog(cfg.DataDir)
			if err != nil {
				return nil, err
			}
			s.extLog, zlg = f, lg.Named("client")
		}
	}
	dial := cfg.DialTimeout
	if dial == 0 {
		dial = 5 * time.Second
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:            s.endpoints,
		DialTimeout:          dial,
		DialKeepAliveTime:    30 * time.Second,
		DialKeepAliveTimeout: 10 * time.Second,
		Logger:               zlg,
	})
	if err != nil {
		s.closeBackends()
		return nil, fmt.Errorf("store: etcd client: %w", err)
	}
	s.client = client
	if s.emb == nil {
		// The client dials lazily: check that the cluster answers (and has a
		// leader) before handing out the store.
		cctx, cancel := context.WithTimeout(ctx, dial)
		_, err := client.Get(cctx, Root, clientv3.WithCountOnly())
		cancel()
		if err != nil {
			s.closeBackends()
			return nil, fmt.Errorf("store: etcd at %v: %w", s.endpoints, err)
		}
	}
	wctx, cancel := context.WithCancel(context.Background())
	s.watchCtx, s.cancel = clientv3.WithRequireLeader(wctx), cancel
	return s, nil
}

// Close stops the caches' watches, the client and the embedded etcd. It is
// safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.isClosed = true
		s.mu.Unlock()
		s.cancel()
		close(s.closed)
		s.wg.Wait()
		s.closeErr = s.closeBackends()
	})
	return s.closeErr
}

func (s *Store) closeBackends() error {
	var err error
	if s.client != nil {
		if cerr := s.client.Close(); cerr != nil && !errors.Is(cerr, context.Canceled) {
			err = cerr
		}
	}
	if s.emb != nil {
		s.emb.close()
	}
	if s.extLog != nil {
		s.extLog.Close()
	}
	return err
}

// Client is the underlying etcd client (for leader election with the
// concurrency package, leases, ...).
func (s *Store) Client() *clientv3.Client { return s.client }

// Endpoints are the etcd client URLs: the embedded member's or Config.Endpoints.
func (s *Store) Endpoints() []string { return slices.Clone(s.endpoints) }

// Embedded reports whether the store runs its own etcd.
func (s *Store) Embedded() bool { return s.emb != nil }

func checkKey(key string) error {
	if key == "" {
		return errors.New("store: empty key")
	}
	return nil
}

func fromKV(kv *mvccpb.KeyValue) KV {
	return KV{Key: string(kv.Key), Value: kv.Value, CreateRevision: kv.CreateRevision, ModRevision: kv.ModRevision}
}

// Get reads key (linearizable). Missing keys give an error matching ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (KV, error) {
	if err := checkKey(key); err != nil {
		return KV{}, err
	}
	resp, err := s.client.Get(ctx, key)
	if err != nil {
		return KV{}, fmt.Errorf("store: get %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return KV{}, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return fromKV(resp.Kvs[0]), nil
}

// listPage bounds one range response; List pages at a fixed revision.
const listPage = 1000

// List reads every key under prefix, sorted by key, as of one revision, which
// it returns (linearizable; large prefixes are read in pages at that revision).
func (s *Store) List(ctx context.Context, prefix string) ([]KV, int64, error) {
	if err := checkKey(prefix); err != nil {
		return nil, 0, err
	}
	for attempt := 0; ; attempt++ {
		kvs, rev, err := s.list(ctx, prefix)
		// A compaction between pages: start again at a newer revision.
		if errors.Is(err, rpctypes.ErrCompacted) && attempt < 3 {
			continue
		}
		return kvs, rev, err
	}
}

func (s *Store) list(ctx context.Context, prefix string) ([]KV, int64, error) {
	end := clientv3.GetPrefixRangeEnd(prefix)
	var (
		out  []KV
		rev  int64
		from = prefix
	)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(listPage)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.client.Get(ctx, from, opts...)
		if err != nil {
			return nil, 0, fmt.Errorf("store: list %s: %w", prefix, err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
			out = make([]KV, 0, resp.Count)
		}
		for _, kv := range resp.Kvs {
			out = append(out, fromKV(kv))
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return out, rev, nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// Put writes value if key's mod revision is expectRev; expectRev 0 means the
// key must not exist (create). It returns the new revision, or an error
// matching ErrConflict.
func (s *Store) Put(ctx context.Context, key string, value []byte, expectRev int64) (int64, error) {
	rev, _, err := s.guardedPut(ctx, key, value, expectRev)
	return rev, err
}

// guardedPut is Put that also returns the key's current state on conflict
// (nil if it does not exist), saving UpdateJSON a read.
func (s *Store) guardedPut(ctx context.Context, key string, value []byte, expectRev int64) (int64, *KV, error) {
	if err := checkKey(key); err != nil {
		return 0, nil, err
	}
	if expectRev < 0 {
		return 0, nil, fmt.Errorf("store: put %s: negative expectRev %d", key, expectRev)
	}
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", expectRev)).
		Then(clientv3.OpPut(key, string(value))).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return 0, nil, fmt.Errorf("store: put %s: %w", key, err)
	}
	if resp.Succeeded {
		return resp.Header.Revision, nil, nil
	}
	var cur *KV
	if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) > 0 {
		kv := fromKV(kvs[0])
		cur = &kv
	}
	return 0, cur, conflict(key, expectRev, cur)
}

func conflict(key string, expectRev int64, cur *KV) error {
	e := &ConflictError{Key: key, ExpectRev: expectRev}
	if cur != nil {
		e.ActualRev = cur.ModRevision
	}
	return e
}

// Delete deletes key if its mod revision is expectRev (which must be > 0;
// for a blind delete use Txn with Op.Unconditional). It returns the new
// revision, or an error matching ErrConflict (and ErrNotFound if the key is
// already gone).
func (s *Store) Delete(ctx context.Context, key string, expectRev int64) (int64, error) {
	return s.Txn(ctx, Op{Key: key, ExpectRev: expectRev, Delete: true})
}

// GetJSON reads key and decodes its JSON value; it returns the mod revision
// to guard the next write.
func GetJSON[T any](ctx context.Context, s *Store, key string) (T, int64, error) {
	var v T
	kv, err := s.Get(ctx, key)
	if err != nil {
		return v, 0, err
	}
	if err := json.Unmarshal(kv.Value, &v); err != nil {
		return v, 0, fmt.Errorf("store: decode %s: %w", key, err)
	}
	return v, kv.ModRevision, nil
}

// PutJSON encodes v as JSON and Puts it with the expectRev guard.
func PutJSON(ctx context.Context, s *Store, key string, v any, expectRev int64) (int64, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("store: encode %s: %w", key, err)
	}
	return s.Put(ctx, key, b, expectRev)
}

// UpdateAttempts bounds UpdateJSON's optimistic-concurrency retries. Two
// processes hammering one key each win about half the rounds, so 32 attempts
// make giving up a one-in-billions event; callers that still get ErrConflict
// should retry later (controllers) or report a server error (API).
const UpdateAttempts = 32

type keyLock struct {
	sem  chan struct{} // capacity 1
	refs int
}

// lockKey serializes UpdateJSON calls on one key within this Store, so
// goroutines of one process queue instead of colliding in etcd (the revision
// guard still arbitrates between processes).
func (s *Store) lockKey(ctx context.Context, key string) (unlock func(), err error) {
	s.keyMu.Lock()
	l := s.keyLocks[key]
	if l == nil {
		l = &keyLock{sem: make(chan struct{}, 1)}
		s.keyLocks[key] = l
	}
	l.refs++
	s.keyMu.Unlock()
	release := func() {
		s.keyMu.Lock()
		if l.refs--; l.refs == 0 {
			delete(s.keyLocks, key)
		}
		s.keyMu.Unlock()
	}
	select {
	case l.sem <- struct{}{}:
		return func() { <-l.sem; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}

// UpdateJSON is the optimistic-concurrency loop: it reads key, calls
// fn(cur, exists) (cur points at a fresh copy of the stored value, or at a
// zero T when the key does not exist), writes the value fn returns guarded by
// the revision read, and on conflict starts again from the newer value, up to
// UpdateAttempts times. fn may modify and return cur; it may run several
// times, so it must have no side effects. If fn returns (nil, nil) nothing is
// written and UpdateJSON returns the current value and revision (0 if the key
// does not exist). An error from fn aborts and is returned as is.
//
// Calls on the same key through the same Store run one at a time (fn must
// not call UpdateJSON on its own key); writers in other processes are
// handled by the revision guard.
func UpdateJSON[T any](ctx context.Context, s *Store, key string, fn func(cur *T, exists bool) (*T, error)) (T, int64, error) {
	var zero T
	if err := checkKey(key); err != nil {
		return zero, 0, err
	}
	unlock, err := s.lockKey(ctx, key)
	if err != nil {
		return zero, 0, fmt.Errorf("store: update %s: %w", key, err)
	}
	defer unlock()
	kv, err := s.Get(ctx, key)
	var cur *KV
	switch {
	case err == nil:
		cur = &kv
	case !errors.Is(err, ErrNotFound):
		return zero, 0, err
	}
	for attempt := 1; ; attempt++ {
		v := new(T)
		var expect int64
		if cur != nil {
			if err := json.Unmarshal(cur.Value, v); err != nil {
				return zero, 0, fmt.Errorf("store: decode %s: %w", key, err)
			}
			expect = cur.ModRevision
		}
		next, err := fn(v, cur != nil)
		if err != nil {
			return zero, 0, err
		}
		if next == nil {
			if cur == nil {
				return zero, 0, nil
			}
			// fn may have modified v: decode again.
			var out T
			if err := json.Unmarshal(cur.Value, &out); err != nil {
				return zero, 0, fmt.Errorf("store: decode %s: %w", key, err)
			}
			return out, cur.ModRevision, nil
		}
		b, err := json.Marshal(next)
		if err != nil {
			return zero, 0, fmt.Errorf("store: encode %s: %w", key, err)
		}
		rev, now, err := s.guardedPut(ctx, key, b, expect)
		if err == nil {
			return *next, rev, nil
		}
		if !errors.Is(err, ErrConflict) || attempt >= UpdateAttempts {
			if errors.Is(err, ErrConflict) {
				return zero, 0, fmt.Errorf("store: update %s: gave up after %d attempts: %w", key, attempt, err)
			}
			return zero, 0, err
		}
		// The failed write returned the current value: retry at once with it
		// (as Kubernetes' GuaranteedUpdate does). Read-to-write is then one
		// round trip, the narrowest window a writer can get; backing off
		// would only widen it while other writers keep going.
		cur = now
	}
}
