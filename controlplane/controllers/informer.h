// The leader's shared cache of objects, as Kubernetes' shared informer is: one list and one
// watch of the store for all controllers, objects kept by resource (plural) and store key.
// It is fed by the store's own watch, so it is exactly the applied state, never ahead of it;
// every change is handed to `on_change` (which fans it out to the controllers).
//
// Objects written around the API (raw /v3 puts) may have any shape: the cache keeps an object
// only if it is a JSON object whose `status`, if present, is an object (or null), and, for the
// resources registered with `needs_spec`, whose `spec` is an object. Anything else is absent.
//
// Runs on the io thread; owned by one leadership (see controller.h).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace tug::store {
class Store;
class WatchHub;
}  // namespace tug::store

namespace tug::cp {

class Informer {
 public:
  using OnChange = std::function<void(const std::string& resource, const std::string& key,
                                      const nlohmann::json* before, const nlohmann::json* after)>;
  // Called once if the watch ends (the store was replaced by a snapshot): the cache can no
  // longer be trusted. The informer may be destroyed from inside it.
  using OnLost = std::function<void(const std::string& why)>;
  // `resources`: plural -> whether the kind must have an object `spec` to count.
  Informer(store::Store& store, store::WatchHub& hub, std::map<std::string, bool> resources,
           OnChange on_change, OnLost on_lost);
  ~Informer();  // cancels the watch
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Lists what is stored now (each object is handed to on_change as a create), then watches
  // from the next revision.
  Status Start();

  // The cached objects of `resource`, by store key (empty if the resource is not cached).
  const std::map<std::string, nlohmann::json>& List(const std::string& resource) const;
  const nlohmann::json* Get(const std::string& resource, const std::string& key) const;
  bool watching() const { return watch_ != 0; }

 private:
  void Apply(const std::string& key, const nlohmann::json* before, const nlohmann::json* after);
  bool Usable(bool needs_spec, const nlohmann::json* obj) const;

  store::Store& store_;
  store::WatchHub& hub_;
  std::map<std::string, bool> wanted_;
  OnChange on_change_;
  OnLost on_lost_;
  std::map<std::string, std::map<std::string, nlohmann::json>> objects_;  // resource -> key ->
  uint64_t watch_ = 0;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace tug::cp
