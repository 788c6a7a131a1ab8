// Package scheduler places ECS tasks on container instances: the filters,
// placement constraints and placement strategies of ECS-SEMANTICS.md §3.13,
// as pure functions over a Snapshot of a cluster.
//
// One Place call runs a pipeline: filters (instance status, agent connected,
// capacity provider, requiresAttributes, memberOf, CPU, memory, TCP and UDP
// host ports, awsvpc addresses, distinctInstance) reject instances, each
// rejection recorded as (instance, filter, reason); the survivors are ranked
// by one score per placementStrategy entry (binpack cpu|memory, spread by
// instanceId/host or an attribute, random), compared lexicographically, with
// ties broken by a per-request seeded permutation so a placement can be
// replayed. Count tasks are placed one after another against a plan overlay,
// so one request both spreads and packs.
//
// Placement is exact — every instance is considered — and indexed: the
// surviving instances are partitioned into cells by the values of the spread
// attributes (all instances of a cell score the same for those strategies)
// and each cell keeps a heap ordered by the instance-level scores (binpack
// remaining, tasks of the group on the instance, then the tie-break rank).
// One placement looks at the top of each cell's heap, so its cost grows with
// the number of distinct spread values, not with the number of instances.
// After a placement only the chosen instance can change, so only it is
// checked again. The index of each request shape is kept on the snapshot
// (place_cache.go): the next request of that shape re-checks only the
// instances changed since (Set, Commit), so neither the filters nor the
// heaps are rebuilt per request. PlaceLinear is the same semantics
// as a scan of every instance per task: the reference for tests and the
// benchmark baseline.
//
// Capacity provider strategies (base and weight) are distributed by
// DistributeCapacityProviders.
//
// The package must not import internal/ecs, the store, or anything that does
// I/O; it imports internal/cql for memberOf.
package scheduler
