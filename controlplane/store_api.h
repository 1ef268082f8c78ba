// The raw store over HTTP, in etcd's v3 JSON shape (the grpc-gateway mapping: proto field
// names, int64 as strings, keys and values base64), so that a curl line written for etcd
// works against Tug:
//
//   POST /v3/kv/put /v3/kv/range /v3/kv/deleterange /v3/kv/txn /v3/maintenance/status
//   POST /v3/watch   {"create_request":{"key","range_end","start_revision"}} streams one
//                    {"result":{...}} per line: created, then events, or canceled
//
// and the member's own endpoints: GET /healthz (the process serves), /readyz (it knows a
// leader and can serve linearizable requests), /cluster/status (members, leader, term,
// commit and applied index).
#pragma once

#include "controlplane/http.h"

namespace tug::store {
class RaftNode;
class WatchHub;
}  // namespace tug::store

namespace tug::cp {

// Returns false if the path is not one of the store's (the caller routes it elsewhere).
bool HandleStoreRequest(store::RaftNode& node, store::WatchHub& watches, const HttpRequest& req,
                        const Respond& respond);

// Maps a store error to an HTTP answer (503 for no quorum, 400 for compacted, ...).
HttpResponse StoreError(const Status& s);

}  // namespace tug::cp
