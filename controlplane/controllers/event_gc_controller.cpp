#include "controlplane/controllers/event_gc_controller.h"

#include <chrono>
#include <ctime>

#include "api/validation.h"
#include "base/clock.h"
#include "raftstore/store.h"

namespace tug::cp {

void EventGcController::Process() {
  if (!due_) return;
  due_ = false;
  // RFC 3339 strings in UTC compare in time order.
  std::time_t cutoff_t =
      std::chrono::system_clock::to_time_t(ctx_.clock.WallNow()) - ctx_.options.event_ttl_s;
  std::tm tm{};
  gmtime_r(&cutoff_t, &tm);
  char cutoff[32];
  std::strftime(cutoff, sizeof cutoff, "%Y-%m-%dT%H:%M:%SZ", &tm);
  storepb::RangeRequest rr;
  rr.set_key("/registry/events/");
  rr.set_range_end(Registry::PrefixEnd("/registry/events/"));
  auto all = ctx_.store.kv().Range(rr);
  for (const auto& kv : all.response.kvs()) {
    auto ev = Registry::Decode(kv.value(), kv.mod_revision());
    if (!ev.ok()) continue;
    std::string last = api::StringField(ev.value(), "lastTimestamp");
    if (last.empty()) last = Meta(ev.value(), "creationTimestamp");
    if (last.empty() || last >= cutoff) continue;
    std::string token = "delete:" + kv.key();
    if (!Begin(token)) continue;
    ctx_.registry.Delete(Kind("events"), Meta(ev.value(), "namespace"), Meta(ev.value(), "name"),
                         Meta(ev.value(), "resourceVersion"), Finish(token, "delete an old event"));
  }
}

}  // namespace tug::cp
