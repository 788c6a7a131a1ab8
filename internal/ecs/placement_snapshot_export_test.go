package ecs

import (
	"context"
	"fmt"
	"reflect"
)

// CheckPlacementSnapshot compares the cluster's kept placement snapshot
// with one read afresh from the store and the cache, and reports how many
// full rebuilds the kept one took so far.
func (s *Server) CheckPlacementSnapshot(ctx context.Context, cluster string) (rebuilds int64, err error) {
	kept := s.cachedPlacementState(cluster)
	fresh, err := s.readPlacementState(ctx, cluster, false)
	if err != nil {
		return 0, err
	}
	s.pcache.mu.Lock()
	rebuilds = s.pcache.rebuilds
	s.pcache.mu.Unlock()
	if len(kept.snapshot) != len(fresh.snapshot) {
		return rebuilds, fmt.Errorf("kept snapshot has %d instances, fresh %d", len(kept.snapshot), len(fresh.snapshot))
	}
	for i := range kept.snapshot {
		k, f := kept.snapshot[i], fresh.snapshot[i]
		if len(k.Groups) == 0 && len(f.Groups) == 0 {
			k.Groups, f.Groups = nil, nil
		}
		if !reflect.DeepEqual(k, f) {
			return rebuilds, fmt.Errorf("instance %d differs:\nkept  %+v\nfresh %+v", i, k, f)
		}
	}
	if !reflect.DeepEqual(kept.revs, fresh.revs) {
		return rebuilds, fmt.Errorf("revisions differ: kept %v, fresh %v", kept.revs, fresh.revs)
	}
	if !reflect.DeepEqual(kept.records, fresh.records) {
		return rebuilds, fmt.Errorf("records differ")
	}
	return rebuilds, nil
}
