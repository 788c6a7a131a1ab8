package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
)

// runContract checks the Store contract. open returns a Store on the backing
// state of the given test: calling it again within the same (sub)test after
// closing the previous Store reopens the same data. Stores are closed at the
// end of the test. Subtests use key prefixes of their own, so backends may
// be shared.
func runContract(t *testing.T, open func(t *testing.T) *Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func(t *testing.T) *Store, ns string)
	}{
		{"NotFound", testNotFound},
		{"CreateOnly", testCreateOnly},
		{"StaleRevision", testStaleRevision},
		{"GuardedDelete", testGuardedDelete},
		{"TxnAllOrNothing", testTxnAllOrNothing},
		{"ListOrderAndPrefixes", testListOrder},
		{"ListPages", testListPages},
		{"UpdateJSONConcurrent", testUpdateJSONConcurrent},
		{"UpdateJSONNoChange", testUpdateJSONNoChange},
		{"CacheSeesWrites", testCacheSeesWrites},
		{"CacheDeletes", testCacheDeletes},
		{"CacheAfterReopen", testCacheAfterReopen},
		{"CacheSubscribe", testCacheSubscribe},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open, t.Name())
		})
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustPut(t *testing.T, s *Store, key, val string, expect int64) int64 {
	t.Helper()
	rev, err := s.Put(ctxT(t), key, []byte(val), expect)
	if err != nil {
		t.Fatalf("Put(%s): %v", key, err)
	}
	return rev
}

func wantValue(t *testing.T, s *Store, key, val string) KV {
	t.Helper()
	kv, err := s.Get(ctxT(t), key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	if string(kv.Value) != val {
		t.Fatalf("Get(%s) = %q, want %q", key, kv.Value, val)
	}
	return kv
}

func wantMissing(t *testing.T, s *Store, key string) {
	t.Helper()
	if kv, err := s.Get(ctxT(t), key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(%s) = %+v, %v; want ErrNotFound", key, kv, err)
	}
}

func wantConflict(t *testing.T, err error, key string) *ConflictError {
	t.Helper()
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Key != key || !strings.Contains(err.Error(), key) {
		t.Fatalf("err = %v, want a ConflictError naming %s", err, key)
	}
	return ce
}

func testNotFound(t *testing.T, open func(*testing.T) *Store, ns string) {
	s := open(t)
	k := Key(ns, "missing")
	wantMissing(t, s, k)
	if _, _, err := GetJSON[map[string]int](ctxT(t), s, k); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetJSON: %v", err)
	}
	kvs, rev, err := s.List(ctxT(t), Prefix(ns))
	if err != nil || len(kvs) != 0 || rev <= 0 {
		t.Fatalf("List(empty) = %v, %d, %v", kvs, rev, err)
	}
	if _, err := s.Get(ctxT(t), ""); err == nil {
		t.Fatal("Get(\"\") succeeded")
	}
}

func testCreateOnly(t *testing.T, open func(*testing.T) *Store, ns string) {
	s := open(t)
	k := Key(ns, "obj")
	rev := mustPut(t, s, k, "v1", 0)
	_, err := s.Put(ctxT(t), k, []byte("v2"), 0)
	if ce := wantConflict(t, err, k); ce.ActualRev != rev || errors.Is(err, ErrNotFound) {
		t.Fatalf("conflict = %+v, want actual %d", ce, rev)
	}
	kv := wantValue(t, s, k, "v1")
	if kv.ModRevision != rev || kv.CreateRevision != rev {
		t.Fatalf("revisions = %d/%d, want %d", kv.CreateRevision, kv.ModRevision, rev)
	}

	type obj struct {
		Name  string
		Count int
	}
	jk := Key(ns, "json")
	jrev, err := PutJSON(ctxT(t), s, jk, obj{"a", 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, grev, err := GetJSON[obj](ctxT(t), s, jk)
	if err != nil || got != (obj{"a", 1}) || grev != jrev {
		t.Fatalf("GetJSON = %+v, %d, %v", got, grev, err)
	}
	if _, err := PutJSON(ctxT(t), s, jk, obj{"b", 2}, 0); !errors.Is(err, ErrConflict) {
		t.Fatalf("PutJSON create twice: %v", err)
	}
}

func testStaleRevision(t *testing.T, open func(*testing.T) *Store, ns string) {
	s := open(t)
	k := Key(ns, "obj")
	r1 := mustPut(t, s, k, "v1", 0)
	r2 := mustPut(t, s, k, "v2", r1)
	if r2 <= r1 {
		t.Fatalf("revision did not advance: %d -> %d", r1, r2)
	}
	_, err := s.Put(ctxT(t), k, []byte("v3"), r1)
	if ce := wantConflict(t, err, k); ce.ExpectRev != r1 || ce.ActualRev != r2 {
		t.Fatalf("conflict = %+v", ce)
	}
	kv := wantValue(t, s, k, "v2")
	if kv.CreateRevision != r1 || kv.ModRevision != r2 {
		t.Fatalf("revisions = %d/%d, want %d/%d", kv.CreateRevision, kv.ModRevision, r1, r2)
	}
	// A guarded write to a key that does not exist is a conflict too.
	_, err = s.Put(ctxT(t), Key(ns, "nope"), []byte("x"), r1)
	wantConflict(t, err, Key(ns, "nope"))
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("guarded put of a missing key: %v, want ErrNotFound too", err)
	}
	if _, err := s.Put(ctxT(t), k, nil, -1); err == nil || errors.Is(err, ErrConflict) {
		t.Fatalf("negative expectRev: %v", err)
	}
}

func testGuardedDelete(t *testing.T, open func(*testing.T) *Store, ns string) {
	s := open(t)
	k := Key(ns, "obj")
	r1 := mustPut(t, s, k, "v1", 0)
	r2 := mustPut(t, s, k, "v2", r1)
	_, err := s.Delete(ctxT(t), k, r1)
	wantConflict(t, err, k)
	wantValue(t, s, k, "v2")
	if _, err := s.Delete(ctxT(t), k, 0); err == nil || errors.Is(err, ErrConflict) {
		t.Fatalf("Delete with expectRev 0: %v, want a usage error", err)
	}
	dr, err := s.Delete(ctxT(t), k, r2)
	if err != nil || dr <= r2 {
		t.Fatalf("Delete = %d, %v", dr, err)
	}
	wantMissing(t, s, k)
	_, err = s.Delete(ctxT(t), k, r2)
	wantConflict(t, err, k)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete of a deleted key: %v, want ErrNotFound too", err)
	}
	// Re-create after delete: create-only works again.
	mustPut(t, s, k, "v3", 0)
}

func testTxnAllOrNothing(t *testing.T, open func(*testing.T) *Store, ns string) {
	s := open(t)
	ctx := ctxT(t)
	a, b, c, d := Key(ns, "a"), Key(ns, "b"), Key(ns, "c"), Key(ns, "d")
	ra := mustPut(t, s, a, "a1", 0)
	rb := mustPut(t, s, b, "b1", 0)
	rb2 := mustPut(t, s, b, "b2", rb)
	rd := mustPut(t, s, d, "d1", 0)

	// One stale guard (b): nothing is written.
	_, err := s.Txn(ctx,
		Op{Key: a, Value: []byte("a2"), ExpectRev: ra},
		Op{Key: c, Value: []byte("c1")},
		Op{Key: b, Value: []byte("b3"), ExpectRev: rb},
		Op{Key: d, Delete: true, ExpectRev: rd},
		Op{Key: Key(ns, "counter"), Value: []byte("1"), Unconditional: true},
	)
	if ce := wantConflict(t, err, b); ce.ActualRev != rb2 {
		t.Fatalf("conflict = %+v", ce)
	}
	wantValue(t, s, a, "a1")
	wantValue(t, s, b, "b2")
	wantValue(t, s, d, "d1")
	wantMissing(t, s, c)
	wantMissing(t, s, Key(ns, "counter"))

	// The first failing op in argument order is named.
	_, err = s.Txn(ctx, Op{Key: c, Value: []byte("x"), ExpectRev: 5}, Op{Key: a, Value: []byte("x")})
	wantConflict(t, err, c)

	// All guards hold: everything is written at one revision.
	rev, err := s.Txn(ctx,
		Op{Key: a, Value: []byte("a2"), ExpectRev: ra},
		Op{Key: c, Value: []byte("c1")},
		Op{Key: b, Value: []byte("b3"), ExpectRev: rb2},
		Op{Key: d, Delete: true, ExpectRev: rd},
		Op{Key: Key(ns, "counter"), Value: []byte("1"), Unconditional: true},
	)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{a: "a2", b: "b3", c: "c1", Key(ns, "counter"): "1"} {
		if kv := wantValue(t, s, k, v); kv.ModRevision != rev {
			t.Fatalf("%s mod revision %d, want %d", k, kv.ModRevision, rev)
		}
	}
	wantMissing(t, s, d)

	// Unconditional ops overwrite and delete blindly.
	if _, err := s.Txn(ctx, Op{Key: Key(ns, "counter"), Value: []byte("2"), Unconditional: true},
		Op{Key: d, Delete: true, Unconditional: true}); err != nil {
		t.Fatal(err)
	}
	wantValue(t, s, Key(ns, "counter"), "2")

	if _, err := s.Txn(ctx); err == nil {
		t.Fatal("empty Txn succeeded")
	}
	ops := make([]Op, MaxTxnOps+1)
	for i := range ops {
		ops[i] = Op{Key: Key(ns, "many", fmt.Sprint(i)), Unconditional: true}
	}
	if _, err := s.Txn(ctx, ops...); err == nil {
		t.Fatal("oversized Txn succeeded")
	}
}

func keysOf(kvs []KV) []string {
	out := make([]string, len(kvs))
	for i, kv := range kvs {
		out[i] = kv.Key
	}
	return out
}

func testListOrder(t *testing.T, open func(*testing.T) *Store, ns string) {
	s := open(t)
	ctx := ctxT(t)
	keys := []string{
		Key(ns, "tasks", "c2", "t1"),
		Key(ns, "tasks", "c1", "zz"),
		Key(ns, "tasks", "c1", "aa"),
		Key(ns, "tasks", "c1", "arn:aws:ecs:r:1:task/c1/x"),
		Key(ns, "tasks", "c10", "t"),
		Key(ns, "tasksx", "t"),
		Key(ns, "services", "c1", "web"),
	}
	var last int64
	for _, k := range keys {
		last = mustPut(t, s, k, k, 0)
	}
	kvs, rev, err := s.List(ctx, Prefix(ns, "tasks"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{keys[3], keys[2], keys[1], keys[4], keys[0]}
	slices.Sort(want)
	if got := keysOf(kvs); !slices.Equal(got, want) {
		t.Fatalf("List(tasks/) = %q\nwant %q", got, want)
	}
	if !slices.IsSorted(keysOf(kvs)) {
		t.Fatal("not sorted")
	}
	if rev < last {
		t.Fatalf("List revision %d < last write %d", rev, last)
	}
	for _, kv := range kvs {
		if string(kv.Value) != kv.Key || kv.ModRevision == 0 {
			t.Fatalf("bad kv %+v", kv)
		}
	}
	// "c1/" does not include "c10/".
	kvs, _, err = s.List(ctx, Prefix(ns, "tasks", "c1"))
	if err != nil {
		t.Fatal(err)
	}
	want = []string{keys[2], keys[3], keys[1]}
	slices.Sort(want)
	if got := keysOf(kvs); !slices.Equal(got, want) {
		t.Fatalf("List(tasks/c1/) = %q\nwant %q", got, want)
	}
	kvs, _, err = s.List(ctx, Prefix(ns))
	if err != nil || len(kvs) != len(keys) {
		t.Fatalf("List(ns) = %d keys, %v", len(kvs), err)
	}
}

func testListPages(t *testing.T, open func(*testing.T) *Store, ns string) {
	s := open(t)
	ctx := ctxT(t)
	const n = 2*listPage + 37
	var ops []Op
	for i := range n {
		ops = append(ops, Op{Key: Key(ns, fmt.Sprintf("k%05d", i)), Value: []byte{byte(i)}})
		if len(ops) == MaxTxnOps || i == n-1 {
			if _, err := s.Txn(ctx, ops...); err != nil {
				t.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	kvs, _, err := s.List(ctx, Prefix(ns))
	if err != nil {
		t.Fatal(err)
	}
	if len(kvs) != n {
		t.Fatalf("List = %d keys, want %d", len(kvs), n)
	}
	for i, kv := range kvs {
		if kv.Key != Key(ns, fmt.Sprintf("k%05d", i)) || kv.Value[0] != byte(i) {
			t.Fatalf("kvs[%d] = %s", i, kv.Key)
		}
	}
}

type counter struct {
	N       int
	Writers []string `json:",omitempty"`
}

func testUpdateJSONConcurrent(t *testing.T, open func(*testing.T) *Store, ns string) {
	s := open(t)
	ctx := ctxT(t)
	// A second client on the same etcd: goroutines of one Store queue on the
	// key, the two Stores race through the revision guard.
	s2, err := Open(ctx, Config{Endpoints: s.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	k := Key(ns, "counter")
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for i := range workers {
		s := []*Store{s, s2}[i%2]
		wg.Go(func() {
			for range each {
				_, _, err := UpdateJSON(ctx, s, k, func(cur *counter, exists bool) (*counter, error) {
					if exists != (cur.N > 0) {
						return nil, fmt.Errorf("exists=%v with N=%d", exists, cur.N)
					}
					cur.N++
					return cur, nil
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, _, err := GetJSON[counter](ctx, s, k)
	if err != nil || got.N != workers*each {
		t.Fatalf("counter = %d, %v; want %d", got.N, err, workers*each)
	}
}

func testUpdateJSONNoChange(t *testing.T, open func(*testing.T) *Store, ns string) {
	s := open(t)
	ctx := ctxT(t)
	k := Key(ns, "obj")
	// Missing key, fn declines: nothing written.
	v, rev, err := UpdateJSON(ctx, s, k, func(cur *counter, exists bool) (*counter, error) {
		if exists {
			t.Error("exists")
		}
		return nil, nil
	})
	if err != nil || rev != 0 || v.N != 0 {
		t.Fatalf("UpdateJSON(decline) = %+v, %d, %v", v, rev, err)
	}
	wantMissing(t, s, k)
	r1, err := PutJSON(ctx, s, k, counter{N: 7}, 0)
	if err != nil {
		t.Fatal(err)
	}
	// fn modifies cur but declines: the stored value is returned unchanged.
	v, rev, err = UpdateJSON(ctx, s, k, func(cur *counter, exists bool) (*counter, error) {
		cur.N = 99
		return nil, nil
	})
	if err != nil || rev != r1 || v.N != 7 {
		t.Fatalf("UpdateJSON(decline) = %+v, %d, %v", v, rev, err)
	}
	boom := errors.New("boom")
	if _, _, err := UpdateJSON(ctx, s, k, func(*counter, bool) (*counter, error) { return nil, boom }); err != boom {
		t.Fatalf("fn error: %v", err)
	}
	v, rev, err = UpdateJSON(ctx, s, k, func(cur *counter, exists bool) (*counter, error) {
		cur.Writers = append(cur.Writers, "me")
		return cur, nil
	})
	if err != nil || rev <= r1 || v.N != 7 || !slices.Equal(v.Writers, []string{"me"}) {
		t.Fatalf("UpdateJSON = %+v, %d, %v", v, rev, err)
	}
}

func waitRev(t *testing.T, c *Cache, rev int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := c.WaitRevision(ctx, rev); err != nil {
		t.Fatalf("WaitRevision(%d): %v (cache at %d)", rev, err, c.Revision())
	}
}

func testCacheSeesWrites(t *testing.T, open func(*testing.T) *Store, ns string) {
	s := open(t)
	ctx := ctxT(t)
	pre := Prefix(ns, "objs")
	before := mustPut(t, s, Key(ns, "objs", "old"), "old", 0)
	c, err := s.Cache(ctx, pre)
	if err != nil {
		t.Fatal(err)
	}
	if c2, err := s.Cache(ctx, pre); err != nil || c2 != c {
		t.Fatalf("second Cache(%s) = %p, %v; want the same %p", pre, c2, err, c)
	}
	if c.Revision() < before {
		t.Fatalf("cache revision %d < %d", c.Revision(), before)
	}
	if kv, ok := c.Get(Key(ns, "objs", "old")); !ok || string(kv.Value) != "old" || kv.ModRevision != before {
		t.Fatalf("initial Get = %+v, %v", kv, ok)
	}
	r1 := mustPut(t, s, Key(ns, "objs", "b"), "b1", 0)
	r2 := mustPut(t, s, Key(ns, "objs", "a"), "a1", 0)
	r3 := mustPut(t, s, Key(ns, "objs", "b"), "b2", r1)
	waitRev(t, c, r3)
	if kv, ok := c.Get(Key(ns, "objs", "b")); !ok || string(kv.Value) != "b2" || kv.ModRevision != r3 || kv.CreateRevision != r1 {
		t.Fatalf("Get(b) = %+v, %v", kv, ok)
	}
	got := keysOf(c.List(pre))
	if want := []string{Key(ns, "objs", "a"), Key(ns, "objs", "b"), Key(ns, "objs", "old")}; !slices.Equal(got, want) {
		t.Fatalf("List = %q, want %q", got, want)
	}
	if kv, ok := c.Get(Key(ns, "objs", "a")); !ok || kv.ModRevision != r2 {
		t.Fatalf("Get(a) = %+v", kv)
	}
	if got := c.List(Key(ns, "objs", "a")); len(got) != 1 {
		t.Fatalf("List(a) = %v", got)
	}
	if c.Len() != 3 {
		t.Fatalf("Len = %d", c.Len())
	}
	// A write outside the prefix: the cache still catches up to its revision
	// (progress notification).
	other := mustPut(t, s, Key(ns, "elsewhere"), "x", 0)
	waitRev(t, c, other)
	if _, ok := c.Get(Key(ns, "elsewhere")); ok {
		t.Fatal("cache holds a key outside its prefix")
	}
	// Same for a Txn mixing both.
	tr, err := s.Txn(ctx, Op{Key: Key(ns, "objs", "c"), Value: []byte("c")}, Op{Key: Key(ns, "elsewhere2"), Value: []byte("y")})
	if err != nil {
		t.Fatal(err)
	}
	waitRev(t, c, tr)
	if _, ok := c.Get(Key(ns, "objs", "c")); !ok {
		t.Fatal("txn write missing")
	}
	type obj struct{ V string }
	if _, err := PutJSON(ctx, s, Key(ns, "objs", "j"), obj{"x"}, 0); err != nil {
		t.Fatal(err)
	}
	c2, err := s.Cache(ctx, Prefix(ns, "jsonly"))
	if err != nil {
		t.Fatal(err)
	}
	jr, err := PutJSON(ctx, s, Key(ns, "jsonly", "j"), obj{"y"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitRev(t, c2, jr)
	if v, rev, err := GetCachedJSON[obj](c2, Key(ns, "jsonly", "j")); err != nil || v.V != "y" || rev != jr {
		t.Fatalf("GetCachedJSON = %+v %d %v", v, rev, err)
	}
	if _, _, err := GetCachedJSON[obj](c2, Key(ns, "jsonly", "none")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetCachedJSON(missing) = %v", err)
	}
	if vs, err := ListCachedJSON[obj](c2, Prefix(ns, "jsonly")); err != nil || len(vs) != 1 || vs[0].V != "y" {
		t.Fatalf("ListCachedJSON = %+v %v", vs, err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("List outside the cache prefix did not panic")
			}
		}()
		c.List(Prefix(ns))
	}()
	// WaitRevision honours ctx.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := c.WaitRevision(short, 1<<40); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitRevision(future) = %v", err)
	}
}

func testCacheDeletes(t *testing.T, open func(*testing.T) *Store, ns string) {
	s := open(t)
	ctx := ctxT(t)
	pre := Prefix(ns, "objs")
	ka, kb := Key(ns, "objs", "a"), Key(ns, "objs", "b")
	ra := mustPut(t, s, ka, "a", 0)
	c, err := s.Cache(ctx, pre)
	if err != nil {
		t.Fatal(err)
	}
	rb := mustPut(t, s, kb, "b", 0)
	waitRev(t, c, rb)
	dr, err := s.Delete(ctx, ka, ra)
	if err != nil {
		t.Fatal(err)
	}
	waitRev(t, c, dr)
	if _, ok := c.Get(ka); ok {
		t.Fatal("deleted key still cached")
	}
	if got := keysOf(c.List(pre)); !slices.Equal(got, []string{kb}) {
		t.Fatalf("List = %q", got)
	}
	tr, err := s.Txn(ctx, Op{Key: kb, Delete: true, ExpectRev: rb}, Op{Key: ka, Value: []byte("a2")})
	if err != nil {
		t.Fatal(err)
	}
	waitRev(t, c, tr)
	if got := keysOf(c.List(pre)); !slices.Equal(got, []string{ka}) {
		t.Fatalf("List = %q", got)
	}
	if kv, ok := c.Get(ka); !ok || kv.CreateRevision != tr {
		t.Fatalf("recreated Get = %+v", kv)
	}
}

func testCacheAfterReopen(t *testing.T, open func(*testing.T) *Store, ns string) {
	s1 := open(t)
	ctx := ctxT(t)
	pre := Prefix(ns, "objs")
	c1, err := s1.Cache(ctx, pre)
	if err != nil {
		t.Fatal(err)
	}
	ka, kb := Key(ns, "objs", "a"), Key(ns, "objs", "b")
	ra := mustPut(t, s1, ka, "a", 0)
	rb := mustPut(t, s1, kb, "b", 0)
	if _, err := s1.Delete(ctx, ka, ra); err != nil {
		t.Fatal(err)
	}
	if err := s1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c1.WaitRevision(ctx, 1<<40); !errors.Is(err, ErrClosed) {
		t.Fatalf("WaitRevision after Close = %v", err)
	}
	if _, err := s1.Cache(ctx, Prefix(ns, "other")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Cache after Close = %v", err)
	}

	s2 := open(t)
	c2, err := s2.Cache(ctx, pre)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Revision() <= rb {
		t.Fatalf("reopened cache revision %d <= %d", c2.Revision(), rb)
	}
	if got := keysOf(c2.List(pre)); !slices.Equal(got, []string{kb}) {
		t.Fatalf("reopened List = %q", got)
	}
	if kv, ok := c2.Get(kb); !ok || kv.ModRevision != rb || string(kv.Value) != "b" {
		t.Fatalf("reopened Get = %+v", kv)
	}
	// The revision guard carries over.
	if _, err := s2.Put(ctx, kb, []byte("b2"), rb); err != nil {
		t.Fatal(err)
	}
}

func testCacheSubscribe(t *testing.T, open func(*testing.T) *Store, ns string) {
	s := open(t)
	ctx := ctxT(t)
	c, err := s.Cache(ctx, Prefix(ns, "objs"))
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		got []Event
	)
	cancel := c.Subscribe(func(ev Event) {
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
	})
	ka := Key(ns, "objs", "a")
	r1 := mustPut(t, s, ka, "1", 0)
	r2 := mustPut(t, s, ka, "2", r1)
	mustPut(t, s, Key(ns, "outside"), "x", 0)
	r3, err := s.Delete(ctx, ka, r2)
	if err != nil {
		t.Fatal(err)
	}
	waitRev(t, c, r3)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	cancel() // idempotent
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("events = %+v", got)
	}
	if e := got[0]; e.Type != EventPut || e.KV.Key != ka || string(e.KV.Value) != "1" || e.KV.ModRevision != r1 || e.Prev != nil {
		t.Fatalf("event 0 = %+v", e)
	}
	if e := got[1]; e.Type != EventPut || string(e.KV.Value) != "2" || e.Prev == nil || string(e.Prev.Value) != "1" {
		t.Fatalf("event 1 = %+v", e)
	}
	if e := got[2]; e.Type != EventDelete || e.KV.ModRevision != r3 || e.Prev == nil || string(e.Prev.Value) != "2" {
		t.Fatalf("event 2 = %+v", e)
	}
	if EventPut.String() != "PUT" || EventDelete.String() != "DELETE" {
		t.Fatal("EventType.String")
	}
}

// openEmbedded opens embedded stores: one data dir per (sub)test.
func openEmbedded() func(t *testing.T) *Store {
	var (
		mu   sync.Mutex
		dirs = map[*testing.T]string{}
	)
	return func(t *testing.T) *Store {
		mu.Lock()
		dir, ok := dirs[t]
		if !ok {
			dir = t.TempDir()
			dirs[t] = dir
		}
		mu.Unlock()
		s, err := Open(t.Context(), Config{DataDir: dir})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func TestEmbeddedContract(t *testing.T) {
	t.Parallel()
	runContract(t, openEmbedded())
}

// startRawEtcd starts a plain embed.Etcd, independent of this package's
// embedding code, and returns its client URL: the path of
// `berth server --etcd-endpoints`.
func startRawEtcd(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	cfg := embed.NewConfig()
	cfg.Dir = filepath.Join(dir, "data")
	cfg.LogOutputs = []string{filepath.Join(dir, "etcd.log")}
	cfg.TickMs, cfg.ElectionMs = 10, 50
	cu, _ := url.Parse("http://127.0.0.1:0")
	pu, _ := url.Parse("http://127.0.0.1:0")
	// Port 0 would be advertised as is; pick real ports.
	cport, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	pport, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	cu.Host = fmt.Sprintf("127.0.0.1:%d", cport)
	pu.Host = fmt.Sprintf("127.0.0.1:%d", pport)
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("raw etcd not ready")
	}
	return cu.String()
}

func TestExternalContract(t *testing.T) {
	t.Parallel()
	endpoint := startRawEtcd(t)
	runContract(t, func(t *testing.T) *Store {
		s, err := Open(t.Context(), Config{Endpoints: []string{endpoint}})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		if s.Embedded() || !slices.Equal(s.Endpoints(), []string{endpoint}) {
			t.Fatalf("Endpoints = %v", s.Endpoints())
		}
		return s
	})
}

func TestExternalUnreachable(t *testing.T) {
	t.Parallel()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = Open(t.Context(), Config{Endpoints: []string{fmt.Sprintf("http://127.0.0.1:%d", port)}, DialTimeout: 300 * time.Millisecond})
	if err == nil {
		t.Fatal("Open of a dead endpoint succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Open took %v", d)
	}
	_ = clientv3.Config{}
}
