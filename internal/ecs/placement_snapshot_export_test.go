package ecs

import (
	"context"
	"fmt"
	"reflect"
)

// CheckPlacementSnapshot compares the cluster's kept placement snapshot
// (its entries and the scheduler snapshot kept from them) with one read
// afresh from the store and the cache, and reports how many full rebuilds
// the kept one took so far.
func (s *Server) CheckPlacementSnapshot(ctx context.Context, cluster string) (rebuilds int64, err error) {
	mu := s.clusterLaunchMu(cluster)
	mu.Lock()
	defer mu.Unlock()
	kept := s.cachedPlacementState(cluster)
	fresh, err := s.readPlacementState(ctx, cluster, false)
	if err != nil {
		return 0, err
	}
	s.pcache.mu.Lock()
	rebuilds = s.pcache.rebuilds
	s.pcache.mu.Unlock()
	if len(kept.entries) != len(fresh.entries) || kept.sched.Len() != fresh.sched.Len() {
		return rebuilds, fmt.Errorf("kept snapshot has %d instances (scheduler %d), fresh %d", len(kept.entries), kept.sched.Len(), len(fresh.entries))
	}
	for id, f := range fresh.entries {
		k := kept.entries[id]
		if k == nil {
			return rebuilds, fmt.Errorf("instance %s missing from the kept snapshot", id)
		}
		kp, fp := k.pi, f.pi
		if len(kp.Groups) == 0 && len(fp.Groups) == 0 {
			kp.Groups, fp.Groups = nil, nil
		}
		if !reflect.DeepEqual(kp, fp) {
			return rebuilds, fmt.Errorf("instance %s differs:\nkept  %+v\nfresh %+v", id, kp, fp)
		}
		if k.rev != f.rev || !reflect.DeepEqual(k.rec, f.rec) {
			return rebuilds, fmt.Errorf("instance %s: reservations differ (revision %d, fresh %d)", id, k.rev, f.rev)
		}
		ks, _ := kept.sched.Instance(id)
		fs, _ := fresh.sched.Instance(id)
		if len(ks.Groups) == 0 && len(fs.Groups) == 0 {
			ks.Groups, fs.Groups = nil, nil
		}
		if !reflect.DeepEqual(ks, fs) {
			return rebuilds, fmt.Errorf("instance %s differs in the scheduler snapshot:\nkept  %+v\nfresh %+v", id, ks, fs)
		}
	}
	return rebuilds, nil
}
