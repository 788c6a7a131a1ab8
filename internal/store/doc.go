// Package store is Berth's state store: etcd, either embedded in the server
// process (single member, fast start) or an existing cluster reached through
// Config.Endpoints.
//
// Every object lives under one key (see Key) as a JSON value. Every write is
// guarded by the key's mod revision (optimistic concurrency): Put and Delete
// take the revision the caller read, 0 meaning "must not exist yet", and fail
// with an error matching ErrConflict when someone else wrote first. UpdateJSON
// is the standard read-modify-write loop that retries on conflict. Txn applies
// several guarded writes atomically.
//
// Reads that serve Describe/List come from a Cache: an in-memory copy of a key
// prefix, filled by one list at revision R and kept current by one watch from
// R+1 (re-listing when the watch revision has been compacted). After a write,
// Cache.WaitRevision(ctx, rev) gives read-your-writes.
//
// Store code never calls time.Now or makes IDs: callers pass them in.
//
// Logging: the embedded etcd writes its zap logs to DataDir/etcd.log, never to
// the terminal. The package also installs (in init) a gRPC global logger that
// drops gRPC's chatter unless GRPC_GO_LOG_SEVERITY_LEVEL is set; warnings and
// errors go to the most recently opened store's etcd.log.
package store
