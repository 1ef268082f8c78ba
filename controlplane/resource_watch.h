// Watches of one kind (`GET /api/v1/namespaces/default/pods?watch=true&resourceVersion=N`):
// a chunked response of newline-delimited {"type":"ADDED|MODIFIED|DELETED","object":{...}}
// events, in revision order, each object carrying the resourceVersion of its change.
//
// - From resourceVersion N: every change after N, none missed and none repeated, then live
//   ones. N older than the store's history: 410 Gone (the client lists again and watches
//   from the list's resourceVersion).
// - Without a resourceVersion (or "0"): an ADDED event for every object now, then changes.
// - Selectors filter as Kubernetes does: an object that stops matching is reported DELETED,
//   one that starts matching ADDED.
// - If the member loses its history (it installed a snapshot) the stream ends with an ERROR
//   event carrying a 410 Status.
//
// A watch served by a follower first waits until the follower has caught up with the leader
// (ReadIndex), so a resourceVersion read anywhere in the cluster can be watched from anywhere.
#pragma once

#include <string>

#include "api/resource.h"
#include "controlplane/http.h"
#include "controlplane/registry.h"

namespace boost::asio {
class io_context;
}
namespace tug::store {
class Store;
class WatchHub;
}  // namespace tug::store

namespace tug::cp {

struct WatchOptions {
  std::string resource_version;  // "" or "0": start with the current state
  api::LabelSelector labels;
  api::FieldSelector fields;
  int timeout_seconds = 0;  // end the stream after this long (0: never)
  // Each event's object as a meta.k8s.io/v1 Table of one row (what `kubectl get -w` asks
  // for), with includeObject as given ("Object", "None", or else metadata only, as
  // Kubernetes does).
  bool table = false;
  std::string include_object;
};

void ServeWatch(boost::asio::io_context& io, store::Store& node, store::WatchHub& hub,
                const api::ResourceInfo& r, const std::string& ns, WatchOptions o,
                const Respond& respond);

// A Reply as an HTTP response (the JSON body and its code).
HttpResponse ToHttp(const Reply& reply);

}  // namespace tug::cp
