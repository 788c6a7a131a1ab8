package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/btree"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Cache is an in-memory copy of every key under a prefix, kept current by a
// watch: one list at revision R, then one watch from R+1; when the watch
// revision has been compacted away, it lists again. Reads never touch etcd.
//
// Values returned by Get and List share memory with the cache: do not modify
// them.
type Cache struct {
	s      *Store
	prefix string

	mu      sync.RWMutex
	kvs     map[string]KV
	keys    *btree.BTreeG[string] // sorted keys of kvs
	rev     int64
	changed chan struct{} // closed and replaced when rev advances
	subs    map[*subscriber]struct{}

	relists  atomic.Int64 // re-lists after the initial one (for tests and stats)
	watching atomic.Bool  // a watch is running (tests)

	watchMu     sync.Mutex
	cancelWatch context.CancelFunc
	hold        sync.Mutex // test hook: held, the watch is not (re)started
}

// EventType says what happened to a key.
type EventType int

const (
	EventPut EventType = iota + 1
	EventDelete
)

func (t EventType) String() string {
	switch t {
	case EventPut:
		return "PUT"
	case EventDelete:
		return "DELETE"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is one change applied to a Cache.
type Event struct {
	Type EventType
	// KV is the new state; for a delete only Key and ModRevision (the
	// revision of the delete, or of the re-list that found the key gone) are
	// set.
	KV KV
	// Prev is the value the cache held before, nil if none.
	Prev *KV
}

type cacheSlot struct {
	ready chan struct{}
	c     *Cache
	err   error
}

// Cache returns the cache of prefix, creating it on first use: it lists the
// prefix (with ctx) and starts its watch, which runs until the Store is
// closed. Every call with the same prefix returns the same *Cache.
func (s *Store) Cache(ctx context.Context, prefix string) (*Cache, error) {
	if err := checkKey(prefix); err != nil {
		return nil, err
	}
	for {
		s.mu.Lock()
		if s.isClosed {
			s.mu.Unlock()
			return nil, ErrClosed
		}
		slot, ok := s.caches[prefix]
		if !ok {
			slot = &cacheSlot{ready: make(chan struct{})}
			s.caches[prefix] = slot
			s.mu.Unlock()
			return s.createCache(ctx, prefix, slot)
		}
		s.mu.Unlock()
		select {
		case <-slot.ready:
			if slot.err == nil {
				return slot.c, nil
			}
			// The creator failed (perhaps only its ctx ended): try again
			// with ours.
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (s *Store) createCache(ctx context.Context, prefix string, slot *cacheSlot) (*Cache, error) {
	c, err := s.newCache(ctx, prefix)
	s.mu.Lock()
	if err == nil && s.isClosed {
		err = ErrClosed
	}
	if err != nil {
		delete(s.caches, prefix) // let a later call try again
	} else {
		s.wg.Add(1)
		go c.run(s.watchCtx)
	}
	s.mu.Unlock()
	slot.c, slot.err = c, err
	close(slot.ready)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (s *Store) newCache(ctx context.Context, prefix string) (*Cache, error) {
	kvs, rev, err := s.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	c := &Cache{
		s:       s,
		prefix:  prefix,
		kvs:     make(map[string]KV, len(kvs)),
		keys:    btree.NewOrderedG[string](32),
		rev:     rev,
		changed: make(chan struct{}),
		subs:    make(map[*subscriber]struct{}),
	}
	for _, kv := range kvs {
		c.kvs[kv.Key] = kv
		c.keys.ReplaceOrInsert(kv.Key)
	}
	return c, nil
}

// Prefix is the cached prefix.
func (c *Cache) Prefix() string { return c.prefix }

// Get returns key's cached state.
func (c *Cache) Get(key string) (KV, bool) {
	c.mu.RLock()
	kv, ok := c.kvs[key]
	c.mu.RUnlock()
	return kv, ok
}

// GetMany looks up keys under one read lock (cheaper than a Get per key
// for hot paths): dst[i] is keys[i]'s value, ok[i] whether it is cached.
// dst and ok are reused when long enough.
func (c *Cache) GetMany(keys []string, dst []KV, ok []bool) ([]KV, []bool) {
	dst, ok = dst[:0], ok[:0]
	c.mu.RLock()
	for _, k := range keys {
		kv, found := c.kvs[k]
		dst, ok = append(dst, kv), append(ok, found)
	}
	c.mu.RUnlock()
	return dst, ok
}

// List returns the cached keys under prefix, sorted by key. prefix must be
// under the cache's prefix (a shorter one would silently miss keys, so it
// panics).
func (c *Cache) List(prefix string) []KV {
	if !strings.HasPrefix(prefix, c.prefix) {
		panic(fmt.Sprintf("store: Cache(%q).List(%q): prefix outside the cache", c.prefix, prefix))
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []KV
	if prefix == c.prefix {
		out = make([]KV, 0, len(c.kvs))
	}
	c.keys.AscendGreaterOrEqual(prefix, func(k string) bool {
		if !strings.HasPrefix(k, prefix) {
			return false
		}
		out = append(out, c.kvs[k])
		return true
	})
	return out
}

// Len is the number of cached keys.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.kvs)
}

// Revision is the etcd revision the cache reflects: every change up to it
// has been applied.
func (c *Cache) Revision() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rev
}

// WaitRevision blocks until the cache has applied revision rev (e.g. the
// revision a Put returned: read-your-writes), ctx is done, or the Store is
// closed. When rev touched no key under the prefix, the cache learns it has
// caught up from a watch progress request.
func (c *Cache) WaitRevision(ctx context.Context, rev int64) error {
	if c.Revision() >= rev {
		return nil
	}
	// The watch usually delivers the write within a millisecond; if not
	// (rev wrote nothing under the prefix), ask for a progress notification,
	// again every 50ms (etcd answers only when all watches are caught up).
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	first := true
	for {
		c.mu.RLock()
		cur, ch := c.rev, c.changed
		c.mu.RUnlock()
		if cur >= rev {
			return nil
		}
		select {
		case <-ch:
		case <-tick.C:
			if first {
				first = false
				tick.Reset(50 * time.Millisecond)
			}
			c.s.requestProgress(ctx)
		case <-ctx.Done():
			return ctx.Err()
		case <-c.s.closed:
			return ErrClosed
		}
	}
}

// requestProgress asks etcd to tell every cache's watch (one shared stream)
// the current revision, if they are all caught up.
func (s *Store) requestProgress(ctx context.Context) {
	// Must carry the watch context's metadata to reach the same stream.
	pctx, cancel := context.WithCancel(s.watchCtx)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	if err := s.client.RequestProgress(pctx); err != nil && s.watchCtx.Err() == nil && ctx.Err() == nil {
		s.log.Debug("watch progress request failed", "err", err)
	}
}

// Subscribe calls fn with every change the cache applies after Subscribe
// returns, in revision order, from a goroutine of its own (a slow fn delays
// only itself; its backlog is buffered). After a re-list, the differences
// are delivered as puts and deletes. Combine with List for the initial state
// (level-triggered consumers tolerate seeing a change twice). cancel stops
// delivery (a call in progress completes); it does not wait, so fn may call
// it. Subscriptions end when the Store is closed.
func (c *Cache) Subscribe(fn func(Event)) (cancel func()) {
	sub := &subscriber{fn: fn, wake: make(chan struct{}, 1), stop: make(chan struct{})}
	c.mu.Lock()
	c.subs[sub] = struct{}{}
	c.mu.Unlock()
	go sub.run(c.s.closed)
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			delete(c.subs, sub)
			c.mu.Unlock()
			close(sub.stop)
		})
	}
}

type subscriber struct {
	fn    func(Event)
	mu    sync.Mutex
	queue []Event
	wake  chan struct{}
	stop  chan struct{}
}

func (s *subscriber) push(evs []Event) {
	s.mu.Lock()
	s.queue = append(s.queue, evs...)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *subscriber) run(closed <-chan struct{}) {
	for {
		select {
		case <-s.wake:
		case <-s.stop:
			return
		case <-closed:
			return
		}
		s.mu.Lock()
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, ev := range batch {
			select {
			case <-s.stop:
				return
			case <-closed:
				return
			default:
			}
			s.fn(ev)
		}
	}
}

// run keeps the cache current until ctx (the Store's watch context) ends.
func (c *Cache) run(ctx context.Context) {
	defer c.s.wg.Done()
	backoff := 50 * time.Millisecond
	for {
		c.hold.Lock()
		c.hold.Unlock() //nolint:staticcheck // test hook: wait while held
		if ctx.Err() != nil {
			return
		}
		wctx, cancel := context.WithCancel(ctx)
		c.watchMu.Lock()
		c.cancelWatch = cancel
		c.watchMu.Unlock()
		started := time.Now()
		c.watching.Store(true)
		err := c.watch(wctx)
		c.watching.Store(false)
		cancel()
		if ctx.Err() != nil {
			return
		}
		// Compacted: the history the watch needs is gone; start over from a
		// fresh list.
		if errors.Is(err, rpctypes.ErrCompacted) {
			if !c.relist(ctx) {
				return
			}
			continue
		}
		if errors.Is(err, context.Canceled) {
			continue // restartWatch (tests)
		}
		if time.Since(started) > 10*time.Second {
			backoff = 50 * time.Millisecond
		}
		c.s.log.Warn("cache watch ended; restarting", "prefix", c.prefix, "rev", c.Revision(), "err", err, "backoff", backoff)
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// watch applies the watch from the cache's revision + 1 until it ends.
func (c *Cache) watch(ctx context.Context) error {
	wch := c.s.client.Watch(ctx, c.prefix,
		clientv3.WithPrefix(), clientv3.WithRev(c.Revision()+1), clientv3.WithProgressNotify())
	for resp := range wch {
		if resp.CompactRevision != 0 {
			return rpctypes.ErrCompacted
		}
		if err := resp.Err(); err != nil {
			return err
		}
		switch {
		case resp.IsProgressNotify():
			// Sent only when the watch is caught up: everything up to the
			// header revision has been delivered.
			c.advance(resp.Header.Revision)
		case len(resp.Events) > 0:
			// Not the header revision: a catching-up watch may send a batch
			// with the store's current revision and more events to follow.
			c.apply(resp.Events)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.New("watch channel closed")
}

func (c *Cache) advance(rev int64) {
	c.mu.Lock()
	c.advanceLocked(rev)
	c.mu.Unlock()
}

func (c *Cache) advanceLocked(rev int64) {
	if rev > c.rev {
		c.rev = rev
		close(c.changed)
		c.changed = make(chan struct{})
	}
}

func (c *Cache) apply(events []*clientv3.Event) {
	c.mu.Lock()
	var evs []Event
	notify := len(c.subs) > 0
	for _, ev := range events {
		key := string(ev.Kv.Key)
		prev, had := c.kvs[key]
		var out Event
		if ev.Type == clientv3.EventTypeDelete {
			if !had {
				continue
			}
			delete(c.kvs, key)
			c.keys.Delete(key)
			out = Event{Type: EventDelete, KV: KV{Key: key, ModRevision: ev.Kv.ModRevision}}
		} else {
			kv := fromKV(ev.Kv)
			c.kvs[key] = kv
			if !had {
				c.keys.ReplaceOrInsert(key)
			}
			out = Event{Type: EventPut, KV: kv}
		}
		if notify {
			if had {
				out.Prev = &prev
			}
			evs = append(evs, out)
		}
	}
	c.advanceLocked(events[len(events)-1].Kv.ModRevision)
	c.deliverLocked(evs)
	c.mu.Unlock()
}

// deliverLocked queues evs for every subscriber; queuing never blocks, and
// doing it under c.mu orders it with Subscribe.
func (c *Cache) deliverLocked(evs []Event) {
	if len(evs) == 0 {
		return
	}
	for sub := range c.subs {
		sub.push(evs)
	}
}

// relist replaces the cache's content with a fresh list, retrying until it
// succeeds or ctx ends.
func (c *Cache) relist(ctx context.Context) bool {
	backoff := 50 * time.Millisecond
	for {
		kvs, rev, err := c.s.List(ctx, c.prefix)
		if err == nil {
			c.replace(kvs, rev)
			c.relists.Add(1)
			c.s.log.Info("cache re-listed", "prefix", c.prefix, "rev", rev, "keys", len(kvs))
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		c.s.log.Warn("cache re-list failed", "prefix", c.prefix, "err", err, "backoff", backoff)
		if !sleep(ctx, backoff) {
			return false
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (c *Cache) replace(kvs []KV, rev int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	notify := len(c.subs) > 0
	var evs []Event
	next := make(map[string]KV, len(kvs))
	keys := btree.NewOrderedG[string](32)
	for _, kv := range kvs {
		next[kv.Key] = kv
		keys.ReplaceOrInsert(kv.Key)
		if notify {
			prev, had := c.kvs[kv.Key]
			switch {
			case !had:
				evs = append(evs, Event{Type: EventPut, KV: kv})
			case prev.ModRevision != kv.ModRevision:
				evs = append(evs, Event{Type: EventPut, KV: kv, Prev: &prev})
			}
		}
	}
	if notify {
		c.keys.Ascend(func(k string) bool {
			if _, ok := next[k]; !ok {
				prev := c.kvs[k]
				evs = append(evs, Event{Type: EventDelete, KV: KV{Key: k, ModRevision: rev}, Prev: &prev})
			}
			return true
		})
	}
	c.kvs, c.keys = next, keys
	c.advanceLocked(rev)
	c.deliverLocked(evs)
}

// restartWatch cancels the current watch; run starts a new one (tests).
func (c *Cache) restartWatch() {
	c.watchMu.Lock()
	if c.cancelWatch != nil {
		c.cancelWatch()
	}
	c.watchMu.Unlock()
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// GetCachedJSON decodes key's cached JSON value and returns its mod revision
// (to guard a write); a missing key gives an error matching ErrNotFound.
func GetCachedJSON[T any](c *Cache, key string) (T, int64, error) {
	var v T
	kv, ok := c.Get(key)
	if !ok {
		return v, 0, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if err := json.Unmarshal(kv.Value, &v); err != nil {
		return v, 0, fmt.Errorf("store: decode %s: %w", key, err)
	}
	return v, kv.ModRevision, nil
}

// ListCachedJSON decodes the cached JSON values under prefix, sorted by key.
func ListCachedJSON[T any](c *Cache, prefix string) ([]T, error) {
	kvs := c.List(prefix)
	out := make([]T, len(kvs))
	for i, kv := range kvs {
		if err := json.Unmarshal(kv.Value, &out[i]); err != nil {
			return nil, fmt.Errorf("store: decode %s: %w", kv.Key, err)
		}
	}
	return out, nil
}
