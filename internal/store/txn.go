package store

import (
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// MaxTxnOps is the most ops one Txn may carry (etcd's default --max-txn-ops,
// which external clusters are likely to keep).
const MaxTxnOps = 128

// Op is one write of a Txn.
type Op struct {
	Key   string
	Value []byte
	// ExpectRev guards the op: the key's mod revision must equal it; 0 means
	// the key must not exist (only meaningful for puts).
	ExpectRev int64
	// Delete deletes Key instead of putting Value. A guarded delete needs
	// ExpectRev > 0.
	Delete bool
	// Unconditional skips the guard (blind writes, e.g. counters or
	// idempotent cleanups). Use sparingly: it can overwrite another writer.
	Unconditional bool
}

// Txn applies all ops atomically, each under its own guard: either every
// guard holds and all ops are applied (the new revision is returned), or
// nothing is written and the error matches ErrConflict, naming the first op
// (in argument order) whose guard failed.
func (s *Store) Txn(ctx context.Context, ops ...Op) (int64, error) {
	if len(ops) == 0 {
		return 0, errors.New("store: empty txn")
	}
	if len(ops) > MaxTxnOps {
		return 0, fmt.Errorf("store: txn of %d ops exceeds %d", len(ops), MaxTxnOps)
	}
	var (
		cmps    []clientv3.Cmp
		thens   []clientv3.Op
		elses   []clientv3.Op
		guarded []int // index into ops of each compare
	)
	for i, op := range ops {
		if err := checkKey(op.Key); err != nil {
			return 0, err
		}
		if !op.Unconditional {
			if op.ExpectRev < 0 || (op.Delete && op.ExpectRev == 0) {
				return 0, fmt.Errorf("store: %s %s: expectRev must be > 0 (or set Unconditional)", opName(op), op.Key)
			}
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(op.Key), "=", op.ExpectRev))
			elses = append(elses, clientv3.OpGet(op.Key, clientv3.WithKeysOnly()))
			guarded = append(guarded, i)
		}
		if op.Delete {
			thens = append(thens, clientv3.OpDelete(op.Key))
		} else {
			thens = append(thens, clientv3.OpPut(op.Key, string(op.Value)))
		}
	}
	resp, err := s.client.Txn(ctx).If(cmps...).Then(thens...).Else(elses...).Commit()
	if err != nil {
		if len(ops) == 1 {
			return 0, fmt.Errorf("store: %s %s: %w", opName(ops[0]), ops[0].Key, err)
		}
		return 0, fmt.Errorf("store: txn of %d ops (first %s): %w", len(ops), ops[0].Key, err)
	}
	if resp.Succeeded {
		return resp.Header.Revision, nil
	}
	for j, r := range resp.Responses {
		op := ops[guarded[j]]
		var cur *KV
		if kvs := r.GetResponseRange().GetKvs(); len(kvs) > 0 {
			kv := fromKV(kvs[0])
			cur = &kv
		}
		if (cur == nil && op.ExpectRev != 0) || (cur != nil && cur.ModRevision != op.ExpectRev) {
			return 0, conflict(op.Key, op.ExpectRev, cur)
		}
	}
	// The guards failed at commit but the reads in the same transaction all
	// match: cannot happen in etcd; report the first guarded key.
	op := ops[guarded[0]]
	return 0, &ConflictError{Key: op.Key, ExpectRev: op.ExpectRev, ActualRev: -1}
}

func opName(op Op) string {
	if op.Delete {
		return "delete"
	}
	return "put"
}
