#include "controlplane/controllers/informer.h"

#include <optional>

#include "controlplane/registry.h"
#include "raftstore/store.h"
#include "raftstore/watch_hub.h"

namespace tug::cp {

using nlohmann::json;

namespace {

const std::string kRoot = "/registry/";

// "/registry/pods/default/web" -> "pods".
std::string ResourceOf(const std::string& key) {
  if (key.rfind(kRoot, 0) != 0) return "";
  auto slash = key.find('/', kRoot.size());
  return slash == std::string::npos ? "" : key.substr(kRoot.size(), slash - kRoot.size());
}

}  // namespace

Informer::Informer(store::Store& store, store::WatchHub& hub, std::map<std::string, bool> resources,
                   OnChange on_change, OnLost on_lost)
    : store_(store),
      hub_(hub),
      wanted_(std::move(resources)),
      on_change_(std::move(on_change)),
      on_lost_(std::move(on_lost)) {
  for (const auto& [r, _] : wanted_)
    objects_[r];
}

Informer::~Informer() {
  if (watch_) hub_.Cancel(watch_);
}

Status Informer::Start() {
  storepb::RangeRequest rr;
  rr.set_key(kRoot);
  rr.set_range_end(Registry::PrefixEnd(kRoot));
  auto all = store_.kv().Range(rr);
  for (const auto& kv : all.response.kvs()) {
    auto obj = Registry::Decode(kv.value(), kv.mod_revision());
    if (obj.ok()) Apply(kv.key(), nullptr, &obj.value());
  }
  auto id = hub_.Watch(kRoot, Registry::PrefixEnd(kRoot), store_.kv().revision() + 1,
                       [this, alive = std::weak_ptr<int>(alive_)](const store::WatchUpdate& u) {
                         if (alive.expired()) return false;
                         if (u.canceled) {
                           watch_ = 0;
                           auto lost = on_lost_;  // a copy: the call may destroy this informer
                           lost("the store was replaced by a snapshot");
                           return false;
                         }
                         for (const auto& e : u.events) {
                           const std::string& key =
                               e.type() == storepb::Event::PUT ? e.kv().key() : e.prev_kv().key();
                           std::optional<json> before, after;
                           if (e.has_prev_kv() && !e.prev_kv().key().empty()) {
                             auto b =
                                 Registry::Decode(e.prev_kv().value(), e.prev_kv().mod_revision());
                             if (b.ok()) before = std::move(b).value();
                           }
                           if (e.type() == storepb::Event::PUT) {
                             auto a = Registry::Decode(e.kv().value(), e.kv().mod_revision());
                             if (a.ok()) after = std::move(a).value();
                           }
                           Apply(key, before ? &*before : nullptr, after ? &*after : nullptr);
                           if (alive.expired())
                             return false;  // a controller's reaction ended the leadership
                         }
                         return true;
                       });
  if (!id.ok()) return id.status();
  watch_ = id.value();
  return Status::Ok();
}

bool Informer::Usable(bool needs_spec, const json* o) const {
  if (!o || !o->is_object()) return false;
  if (o->contains("status") && !(*o)["status"].is_object() && !(*o)["status"].is_null())
    return false;
  return !needs_spec || (o->contains("spec") && (*o)["spec"].is_object());
}

void Informer::Apply(const std::string& key, const json* before, const json* after) {
  std::string resource = ResourceOf(key);
  auto want = wanted_.find(resource);
  if (want == wanted_.end()) return;
  if (!Usable(want->second, before)) before = nullptr;
  if (!Usable(want->second, after)) after = nullptr;
  auto& objects = objects_[resource];
  if (after) {
    objects[key] = *after;
  } else {
    objects.erase(key);
  }
  if (before || after) on_change_(resource, key, before, after);
}

const std::map<std::string, json>& Informer::List(const std::string& resource) const {
  static const std::map<std::string, json> kNone;
  auto it = objects_.find(resource);
  return it == objects_.end() ? kNone : it->second;
}

const json* Informer::Get(const std::string& resource, const std::string& key) const {
  const auto& objects = List(resource);
  auto it = objects.find(key);
  return it == objects.end() ? nullptr : &it->second;
}

}  // namespace tug::cp
