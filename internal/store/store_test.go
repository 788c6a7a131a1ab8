package store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func openT(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{DataDir: dir})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := ctxT(t)
	s := openT(t, dir)
	if !s.Embedded() || len(s.Endpoints()) != 1 || !strings.HasPrefix(s.Endpoints()[0], "http://127.0.0.1:") {
		t.Fatalf("Endpoints = %v", s.Endpoints())
	}
	want := map[string]string{}
	var last int64
	for i := range 20 {
		k := Key("000000000000", "us-east-1", "ecs", "clusters", fmt.Sprintf("c%02d", i))
		want[k] = fmt.Sprintf(`{"n":%d}`, i)
		last = mustPut(t, s, k, want[k], 0)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	log, err := os.ReadFile(filepath.Join(dir, "etcd.log"))
	if err != nil || !bytes.Contains(log, []byte("etcd")) {
		t.Fatalf("etcd.log: %v, %d bytes", err, len(log))
	}
	if _, err := os.Stat(filepath.Join(dir, "etcd", "member")); err != nil {
		t.Fatalf("etcd data: %v", err)
	}

	s2 := openT(t, dir)
	kvs, rev, err := s2.List(ctx, Prefix("000000000000", "us-east-1", "ecs", "clusters"))
	if err != nil {
		t.Fatal(err)
	}
	if rev < last || len(kvs) != len(want) {
		t.Fatalf("after restart: %d keys at rev %d, want %d at >= %d", len(kvs), rev, len(want), last)
	}
	for _, kv := range kvs {
		if want[kv.Key] != string(kv.Value) {
			t.Fatalf("%s = %s, want %s", kv.Key, kv.Value, want[kv.Key])
		}
	}
	// Revisions carry over: the last key's guard still works.
	k := kvs[len(kvs)-1]
	if _, err := s2.Put(ctx, k.Key, []byte("{}"), k.ModRevision); err != nil {
		t.Fatal(err)
	}
	// The log file grows across restarts (appended, not truncated).
	s2.Close()
	log2, _ := os.ReadFile(filepath.Join(dir, "etcd.log"))
	if len(log2) <= len(log) {
		t.Fatalf("etcd.log did not grow: %d -> %d", len(log), len(log2))
	}
}

// TestQuietOutput runs a store's whole life in a child process and checks
// that etcd and gRPC print nothing to stdout/stderr.
func TestQuietOutput(t *testing.T) {
	t.Parallel()
	if os.Getenv("BERTH_STORE_QUIET_CHILD") != "" {
		t.Skip("child")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestQuietChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "BERTH_STORE_QUIET_CHILD="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if string(out) != "PASS\n" {
		t.Fatalf("child printed more than PASS:\n%s", out)
	}
}

func TestQuietChild(t *testing.T) {
	dir := os.Getenv("BERTH_STORE_QUIET_CHILD")
	if dir == "" {
		t.Skip("run by TestQuietOutput")
	}
	ctx := context.Background()
	s, err := Open(ctx, Config{DataDir: filepath.Join(dir, "a")})
	if err != nil {
		t.Fatal(err)
	}
	ext, err := Open(ctx, Config{Endpoints: s.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := ext.Cache(ctx, Prefix("x"))
	if err != nil {
		t.Fatal(err)
	}
	rev, err := s.Put(ctx, Key("x", "y"), []byte("1"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitRevision(ctx, rev); err != nil {
		t.Fatal(err)
	}
	// Stop the server under the external client's feet: connection errors.
	s.Close()
	time.Sleep(100 * time.Millisecond)
	ext.Close()
	// Restart on the same data.
	s, err = Open(ctx, Config{DataDir: filepath.Join(dir, "a")})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// TestCacheRelistAfterCompaction blinds a cache's watch, writes, compacts
// past the cache's revision, and checks that the cache re-lists, ends up
// equal to the store, and tells subscribers the differences.
func TestCacheRelistAfterCompaction(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	s := openT(t, t.TempDir())
	pre := Prefix("acct", "tasks")
	ka, kb, kc := Key("acct", "tasks", "a"), Key("acct", "tasks", "b"), Key("acct", "tasks", "c")
	ra := mustPut(t, s, ka, "a1", 0)
	rb := mustPut(t, s, kb, "b1", 0)
	c, err := s.Cache(ctx, pre)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		evs []Event
	)
	defer c.Subscribe(func(ev Event) {
		mu.Lock()
		evs = append(evs, ev)
		mu.Unlock()
	})()

	// A compaction while the watch is caught up changes nothing.
	rs, err := s.Put(ctx, Key("acct", "other"), []byte("x"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client().Compact(ctx, rs); err != nil {
		t.Fatal(err)
	}
	r := mustPut(t, s, ka, "a2", ra)
	waitRev(t, c, r)
	if n := c.relists.Load(); n != 0 {
		t.Fatalf("relists = %d after a compaction behind the watch", n)
	}

	// Blind the cache: stop its watch and keep it from restarting.
	waitFor(t, "watch running", c.watching.Load)
	c.hold.Lock()
	c.restartWatch()
	waitFor(t, "watch stopped", func() bool { return !c.watching.Load() })
	blindRev := c.Revision()

	rc := mustPut(t, s, kc, "c1", 0)
	r3 := mustPut(t, s, ka, "a3", r)
	rd, err := s.Delete(ctx, kb, rb)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client().Compact(ctx, rd, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	if blindRev+1 >= rd {
		t.Fatalf("cache revision %d not behind compaction %d", blindRev, rd)
	}
	c.hold.Unlock()
	waitRev(t, c, rd)
	if n := c.relists.Load(); n != 1 {
		t.Fatalf("relists = %d, want 1", n)
	}
	kvs, _, err := s.List(ctx, pre)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.List(pre); !slices.EqualFunc(got, kvs, func(a, b KV) bool {
		return a.Key == b.Key && string(a.Value) == string(b.Value) && a.ModRevision == b.ModRevision && a.CreateRevision == b.CreateRevision
	}) {
		t.Fatalf("cache after re-list = %+v\nstore = %+v", got, kvs)
	}
	if kv, _ := c.Get(ka); kv.ModRevision != r3 {
		t.Fatalf("a = %+v", kv)
	}
	if kv, _ := c.Get(kc); kv.ModRevision != rc {
		t.Fatalf("c = %+v", kv)
	}

	// The watch resumes after the re-list.
	r4 := mustPut(t, s, kc, "c2", rc)
	waitRev(t, c, r4)
	if kv, _ := c.Get(kc); string(kv.Value) != "c2" {
		t.Fatalf("after re-list: c = %+v", kv)
	}

	waitFor(t, "events", func() bool { mu.Lock(); defer mu.Unlock(); return len(evs) >= 5 })
	mu.Lock()
	defer mu.Unlock()
	var got []string
	for _, ev := range evs {
		got = append(got, fmt.Sprintf("%v %s %s", ev.Type, LastPart(ev.KV.Key), ev.KV.Value))
	}
	// a2 from the watch; then the re-list diff in key order (a3, c1), then the
	// deletions (b), then c2 from the resumed watch.
	want := []string{"PUT a a2", "PUT a a3", "PUT c c1", "DELETE b ", "PUT c c2"}
	if !slices.Equal(got, want) {
		t.Fatalf("events = %q\nwant %q", got, want)
	}
	if evs[3].Prev == nil || string(evs[3].Prev.Value) != "b1" || evs[1].Prev == nil || string(evs[1].Prev.Value) != "a2" {
		t.Fatalf("re-list events lack Prev: %+v", evs)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCacheSharedAcrossGoroutines(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	s := openT(t, t.TempDir())
	var wg sync.WaitGroup
	caches := make([]*Cache, 16)
	for i := range caches {
		wg.Go(func() {
			c, err := s.Cache(ctx, Prefix("p"))
			if err != nil {
				t.Error(err)
			}
			caches[i] = c
		})
	}
	wg.Wait()
	for _, c := range caches {
		if c != caches[0] {
			t.Fatal("different caches for one prefix")
		}
	}
	// Readers race with the watch applying writes.
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				c := caches[0]
				c.Get(Key("p", "k3"))
				if kvs := c.List(Prefix("p")); !slices.IsSortedFunc(kvs, func(a, b KV) int { return strings.Compare(a.Key, b.Key) }) {
					t.Error("unsorted")
					return
				}
			}
		})
	}
	var last int64
	for i := range 50 {
		last = mustPut(t, s, Key("p", fmt.Sprintf("k%d", i)), "v", 0)
	}
	waitRev(t, caches[0], last)
	close(stop)
	wg.Wait()
	if n := caches[0].Len(); n != 50 {
		t.Fatalf("Len = %d", n)
	}
}

func TestOpenLatency(t *testing.T) {
	// Not parallel: measures.
	dir := t.TempDir()
	start := time.Now()
	s := openT(t, dir)
	cold := time.Since(start)
	mustPut(t, s, Key("k"), "v", 0)
	s.Close()
	start = time.Now()
	s = openT(t, dir)
	warm := time.Since(start)
	s.Close()
	t.Logf("embedded Open until ready: cold %v, restart %v", cold, warm)
	if cold > 5*time.Second || warm > 5*time.Second {
		t.Errorf("Open too slow: cold %v, restart %v", cold, warm)
	}
}

func BenchmarkOpen(b *testing.B) {
	for b.Loop() {
		dir := b.TempDir()
		s, err := Open(context.Background(), Config{DataDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
}

func BenchmarkPut(b *testing.B) {
	s := openT(b, b.TempDir())
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, err := s.Put(ctx, Key("bench", fmt.Sprint(i)), []byte(`{"status":"RUNNING"}`), 0); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkPutParallel(b *testing.B) {
	s := openT(b, b.TempDir())
	ctx := context.Background()
	var (
		mu sync.Mutex
		n  int
	)
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			i := n
			n++
			mu.Unlock()
			if _, err := s.Put(ctx, Key("bench", fmt.Sprint(i)), []byte(`{"status":"RUNNING"}`), 0); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchCache(b *testing.B, n int) (*Cache, []string) {
	s := openT(b, b.TempDir())
	ctx := context.Background()
	keys := make([]string, n)
	var ops []Op
	for i := range n {
		keys[i] = Key("acct", "region", "ecs", "tasks", fmt.Sprintf("c%d", i%10), fmt.Sprintf("task-%06d", i))
		ops = append(ops, Op{Key: keys[i], Value: []byte(`{"lastStatus":"RUNNING"}`)})
		if len(ops) == MaxTxnOps || i == n-1 {
			if _, err := s.Txn(ctx, ops...); err != nil {
				b.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	c, err := s.Cache(ctx, Prefix("acct", "region", "ecs", "tasks"))
	if err != nil {
		b.Fatal(err)
	}
	if c.Len() != n {
		b.Fatalf("Len = %d", c.Len())
	}
	return c, keys
}

func BenchmarkCacheGet(b *testing.B) {
	c, keys := benchCache(b, 10000)
	i := 0
	for b.Loop() {
		if _, ok := c.Get(keys[i%len(keys)]); !ok {
			b.Fatal("miss")
		}
		i++
	}
}

func BenchmarkCacheGetParallel(b *testing.B) {
	c, keys := benchCache(b, 10000)
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok := c.Get(keys[i%len(keys)]); !ok {
				b.Error("miss")
				return
			}
			i += 7
		}
	})
}

// BenchmarkCacheList lists one cluster's 1000 tasks out of 10000.
func BenchmarkCacheList(b *testing.B) {
	c, _ := benchCache(b, 10000)
	p := Prefix("acct", "region", "ecs", "tasks", "c3")
	for b.Loop() {
		if n := len(c.List(p)); n != 1000 {
			b.Fatalf("List = %d", n)
		}
	}
}

// BenchmarkPutWaitCache is a write followed by read-your-writes through the
// cache (what an API handler does before answering).
func BenchmarkPutWaitCache(b *testing.B) {
	s := openT(b, b.TempDir())
	ctx := context.Background()
	c, err := s.Cache(ctx, Prefix("bench"))
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		rev, err := s.Put(ctx, Key("bench", fmt.Sprint(i)), []byte(`{"status":"RUNNING"}`), 0)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.WaitRevision(ctx, rev); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkWaitRevisionOutsidePrefix: read-your-writes when the write is not
// under the cache's prefix (progress notification path).
func BenchmarkWaitRevisionOutsidePrefix(b *testing.B) {
	s := openT(b, b.TempDir())
	ctx := context.Background()
	c, err := s.Cache(ctx, Prefix("bench"))
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		rev, err := s.Put(ctx, Key("other", fmt.Sprint(i)), []byte(`{}`), 0)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.WaitRevision(ctx, rev); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
