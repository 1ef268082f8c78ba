#include "controlplane/resource_watch.h"

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <limits>
#include <unordered_map>

#include "api/discovery.h"
#include "api/json_access.h"
#include "api/timestamp.h"
#include "raftstore/store.h"
#include "raftstore/watch_hub.h"

namespace tug::cp {

using nlohmann::json;

HttpResponse ToHttp(const Reply& reply) {
  HttpResponse r;
  r.status = reply.code;
  r.body = SafeDump(reply.body);
  return r;
}

namespace {

// Every watcher of a kind sees the same change: decode and serialize each changed object once
// per revision, not once per watcher, so that hundreds of watchers cost little per write.
struct Decoded {
  bool ok = false;
  json obj;          // with resourceVersion
  std::string text;  // obj.dump()
};

class DecodeCache {
 public:
  // The object an event puts (new) or the one it removes/replaces (prev), decoded.
  const Decoded& Get(int64_t rev, const storepb::Event& e, bool prev) {
    if (rev != rev_) {
      rev_ = rev;
      entries_.clear();
    }
    const storepb::KeyValue& kv = prev ? e.prev_kv() : e.kv();
    auto key = std::make_pair(kv.key(), prev);
    auto it = entries_.find(key);
    if (it != entries_.end()) return it->second;
    Decoded d;
    // A deleted object is shown as it was, with the revision of its deletion.
    int64_t obj_rev =
        prev && e.type() == storepb::Event::DELETE ? e.kv().mod_revision() : kv.mod_revision();
    auto obj = Registry::Decode(kv.value(), obj_rev);
    if (obj.ok()) {
      d.ok = true;
      d.obj = std::move(obj).value();
      d.text = SafeDump(d.obj);
    }
    return entries_.emplace(key, std::move(d)).first->second;
  }

 private:
  struct Hash {
    size_t operator()(const std::pair<std::string, bool>& k) const {
      return std::hash<std::string>()(k.first) ^ k.second;
    }
  };
  int64_t rev_ = -1;
  std::unordered_map<std::pair<std::string, bool>, Decoded, Hash> entries_;
};

DecodeCache& Cache() {
  static DecodeCache cache;  // io thread only
  return cache;
}

std::string Line(const char* type, const std::string& object_text) {
  std::string s;
  s.reserve(object_text.size() + 32);
  s += "{\"type\":\"";
  s += type;
  s += "\",\"object\":";
  s += object_text;
  s += "}\n";
  return s;
}

std::string ErrorLine(const Reply& status) {
  return Line("ERROR", SafeDump(status.body));
}

// An event's object as a Table of one row, for a watcher that asked for Tables.
std::string TableText(const api::ResourceInfo& r, const WatchOptions& o, const json& obj) {
  return SafeDump(api::ToTable(r, {obj}, api::AtString(obj, {"metadata", "resourceVersion"}),
                               o.include_object, api::NowUnixSeconds()));
}

// The lines a revision's events make for one watcher.
std::string Render(const api::ResourceInfo& r, const WatchOptions& o, int64_t rev,
                   const std::vector<storepb::Event>& events) {
  std::string out;
  // The object's text as this watcher wants it: the shared serialization (not copied), or a
  // Table made for it, kept here until its line is written.
  std::string table;
  auto text = [&](const Decoded& d) -> const std::string& {
    if (!o.table) return d.text;
    table = TableText(r, o, d.obj);
    return table;
  };
  for (const auto& e : events) {
    bool had_prev = e.has_prev_kv() && !e.prev_kv().key().empty();
    const Decoded* prev = had_prev ? &Cache().Get(rev, e, true) : nullptr;
    bool prev_match = prev && prev->ok && Registry::Matches(r, prev->obj, o.labels, o.fields);
    if (e.type() == storepb::Event::DELETE) {
      if (prev_match) out += Line("DELETED", text(*prev));
      continue;
    }
    const Decoded& cur = Cache().Get(rev, e, false);
    bool cur_match = cur.ok && Registry::Matches(r, cur.obj, o.labels, o.fields);
    if (cur_match) {
      out += Line(prev_match ? "MODIFIED" : "ADDED", text(cur));
    } else if (prev_match) {
      // It left the selection: its watcher sees it go, as the object it is now.
      out += Line("DELETED", text(cur.ok ? cur : *prev));
    }
  }
  return out;
}

void StartStream(boost::asio::io_context& io, store::Store& node, store::WatchHub& hub,
                 const api::ResourceInfo& r, const std::string& ns, const WatchOptions& o,
                 int64_t from, std::shared_ptr<ResponseStream> out) {
  std::string prefix = Registry::Prefix(r, ns);
  std::string end = Registry::PrefixEnd(prefix);
  if (from == 0) {
    // The current state as ADDED events, then every change after it: both read on this
    // thread, so nothing slips in between.
    storepb::RangeRequest rr;
    rr.set_key(prefix);
    rr.set_range_end(end);
    auto now = node.kv().Range(rr);
    std::string lines;
    for (const auto& kv : now.response.kvs()) {
      auto obj = Registry::Decode(kv.value(), kv.mod_revision());
      if (obj.ok() && Registry::Matches(r, obj.value(), o.labels, o.fields))
        lines += Line("ADDED", o.table ? TableText(r, o, obj.value()) : SafeDump(obj.value()));
    }
    if (!lines.empty() && !out->Write(std::move(lines))) return;
    from = node.kv().revision() + 1;
  }
  auto id = hub.Watch(prefix, end, from, [&r, o, out](const store::WatchUpdate& u) {
    if (u.canceled) {
      out->Write(ErrorLine(Gone(u.reason)));
      out->End();
      return false;
    }
    std::string lines = Render(r, o, u.revision, u.events);
    if (lines.empty()) return !out->closed();
    return out->Write(std::move(lines));
  });
  if (!id.ok()) {
    out->Write(ErrorLine(id.status().code() == Status::Code::kCompacted
                             ? Gone("too old resource version: " + std::to_string(from - 1) + " (" +
                                    std::to_string(node.kv().compacted_revision()) + ")")
                             : ErrorReply(500, "InternalError", id.status().message())));
    out->End();
    return;
  }
  if (out->closed()) {  // the client left before the watch began: nobody would cancel it
    hub.Cancel(id.value());
    return;
  }
  std::shared_ptr<boost::asio::steady_timer> timer;
  if (o.timeout_seconds > 0) {
    timer =
        std::make_shared<boost::asio::steady_timer>(io, std::chrono::seconds(o.timeout_seconds));
    timer->async_wait([out](const boost::system::error_code& ec) {
      if (!ec) out->End();
    });
  }
  out->OnClose([&hub, wid = id.value(), timer] {
    hub.Cancel(wid);
    if (timer) timer->cancel();
  });
}

}  // namespace

void ServeWatch(boost::asio::io_context& io, store::Store& node, store::WatchHub& hub,
                const api::ResourceInfo& r, const std::string& ns, WatchOptions o,
                const Respond& respond) {
  int64_t from = 0;
  if (!o.resource_version.empty() && o.resource_version != "0") {
    try {
      size_t used = 0;
      int64_t n = std::stoll(o.resource_version, &used);
      if (used != o.resource_version.size() || n < 0 || n == std::numeric_limits<int64_t>::max())
        throw std::invalid_argument("rv");
      from = n + 1;
    } catch (...) {
      respond(ToHttp(BadRequest("resourceVersion must be a revision number, not \"" +
                                o.resource_version + "\"")));
      return;
    }
  }
  node.WaitLinearizable([&io, &node, &hub, &r, ns, o, from, respond](Status s) {
    if (!s) {
      respond(ToHttp(StoreFailure(s)));
      return;
    }
    if (from > 0 && from <= node.kv().compacted_revision()) {
      respond(ToHttp(Gone("too old resource version: " + std::to_string(from - 1) + " (" +
                          std::to_string(node.kv().compacted_revision()) +
                          "): list again and watch from the list's resourceVersion")));
      return;
    }
    if (from > node.kv().revision() + 1) {
      respond(ToHttp(
          ErrorReply(504, "Timeout",
                     "Too large resource version: " + std::to_string(from - 1) +
                         ", current resource version: " + std::to_string(node.kv().revision()))));
      return;
    }
    HttpResponse resp;
    resp.stream = [&io, &node, &hub, &r, ns, o, from](std::shared_ptr<ResponseStream> out) {
      StartStream(io, node, hub, r, ns, o, from, std::move(out));
    };
    respond(std::move(resp));
  });
}

}  // namespace tug::cp
