#include "controlplane/registry.h"

#include "api/timestamp.h"

#include <chrono>
#include <ctime>
#include <random>

#include "api/document.h"
#include "api/validation.h"
#include "base/base64.h"
#include "raftstore/store.h"

namespace tug::cp {

using nlohmann::json;

namespace {

// Writes retried on a fresh read when someone else changed the object in between (only for
// writes without a resourceVersion precondition). Each attempt is a read and a write, so
// busy objects get through; the bound only stops a pathological loop.
constexpr int kMaxAttempts = 64;

std::string Rv(const json& obj) {
  if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object()) return "";
  const json& md = obj["metadata"];
  if (!md.contains("resourceVersion") || md["resourceVersion"].is_null()) return "";
  return md["resourceVersion"].is_string() ? md["resourceVersion"].get<std::string>()
                                           : SafeDump(md["resourceVersion"]);
}

std::string Stored(json obj) {
  if (obj.contains("metadata") && obj["metadata"].is_object())
    obj["metadata"].erase("resourceVersion");
  return SafeDump(obj);
}

void SetRv(json& obj, int64_t rv) {
  obj["metadata"]["resourceVersion"] = std::to_string(rv);
}

// Kubernetes' Status of a write that lost a race (or a stale resourceVersion).
const char* kModified =
    "the object has been modified; please apply your changes to the latest version and try again";

storepb::Compare ModEquals(const std::string& key, int64_t rev) {
  storepb::Compare c;
  c.set_key(key);
  c.set_target(storepb::Compare::MOD);
  c.set_result(storepb::Compare::EQUAL);
  c.set_mod_revision(rev);
  return c;
}

// Writes `key` = `value` in `txn` only if the key does not exist yet (its create revision is
// 0): how objects are created and how what they hold is claimed.
void PutIfAbsent(storepb::TxnRequest& txn, const std::string& key, const std::string& value) {
  auto* c = txn.add_compare();
  c->set_key(key);
  c->set_target(storepb::Compare::CREATE);
  c->set_result(storepb::Compare::EQUAL);
  c->set_create_revision(0);
  auto* put = txn.add_success()->mutable_request_put();
  put->set_key(key);
  put->set_value(value);
}

// The list continuation: the revision of the first page and the key to go on from.
std::string EncodeContinue(int64_t rev, const std::string& next_key) {
  return Base64Encode(json{{"rv", rev}, {"start", Base64Encode(next_key)}}.dump());
}

bool DecodeContinue(const std::string& token, int64_t* rev, std::string* next_key) {
  auto raw = Base64Decode(token);
  if (!raw) return false;
  auto parsed = api::ParseJson(*raw, "continue token");
  if (!parsed.ok()) return false;
  const json& j = parsed.value();
  if (!j.is_object() || !j.contains("rv") || !j["rv"].is_number_integer() || !j.contains("start") ||
      !j["start"].is_string())
    return false;
  auto key = Base64Decode(j["start"].get<std::string>());
  if (!key) return false;
  *rev = j["rv"].get<int64_t>();
  *next_key = *key;
  return true;
}

}  // namespace

std::string NewUid() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t a = rng(), b = rng();
  a = (a & ~0xF000ULL) | 0x4000ULL;        // version 4
  b = (b & ~(3ULL << 62)) | (2ULL << 62);  // RFC 4122 variant
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xFFFF), static_cast<unsigned>(a & 0xFFFF),
                static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFULL));
  return buf;
}

std::string Registry::Key(const api::ResourceInfo& r, const std::string& ns,
                          const std::string& name) {
  return Prefix(r, ns) + name;
}

std::string Registry::PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  end.back() = static_cast<char>(end.back() + 1);  // prefixes end in '/': no overflow
  return end;
}

std::string Registry::Prefix(const api::ResourceInfo& r, const std::string& ns) {
  std::string p = "/registry/" + r.name + "/";
  if (r.namespaced && !ns.empty()) p += ns + "/";
  return p;
}

Result<json> Registry::Decode(const std::string& value, int64_t rv) {
  auto parsed = api::ParseJson(value, "stored object");
  if (!parsed.ok() || !parsed->is_object())
    return Status::Error("a stored object is not a JSON object (written by hand through /v3?)");
  json obj = std::move(parsed).value();
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = json::object();
  SetRv(obj, rv);
  return obj;
}

std::optional<Reply> Registry::CheckFields(const api::ResourceInfo& r,
                                           const api::FieldSelector& fields) {
  for (const auto& req : fields.requirements()) {
    if (r.AllowsField(req.key)) continue;
    std::string allowed = "metadata.name";
    if (r.namespaced) allowed += ", metadata.namespace";
    for (const auto& f : r.field_selectors)
      allowed += ", " + f;
    return BadRequest("field label not supported: " + req.key + " (" + r.name +
                      " can be selected by " + allowed + ")");
  }
  return std::nullopt;
}

bool Registry::Matches(const api::ResourceInfo& r, const json& obj,
                       const api::LabelSelector& labels, const api::FieldSelector& fields) {
  if (!labels.empty()) {
    const json* l = nullptr;
    if (obj.contains("metadata") && obj["metadata"].is_object() &&
        obj["metadata"].contains("labels"))
      l = &obj["metadata"]["labels"];
    if (!labels.Matches(l ? *l : json())) return false;
  }
  if (fields.empty()) return true;
  for (const auto& req : fields.requirements()) {
    if (!r.AllowsField(req.key)) return false;
  }
  return fields.Matches([&obj](const std::string& f) { return api::FieldValue(obj, f); });
}

void Registry::Commit(storepb::TxnRequest txn,
                      std::function<void(bool, const storepb::TxnResponse&, int64_t)> on_done,
                      ReplyFn on_fail) {
  storepb::Request req;
  *req.mutable_txn() = std::move(txn);
  node_.Propose(std::move(req), [on_done = std::move(on_done),
                                 on_fail = std::move(on_fail)](Result<storepb::Response> res) {
    if (!res.ok()) {
      on_fail(StoreFailure(res.status()));
      return;
    }
    on_done(res->txn().succeeded(), res->txn(), res->revision());
  });
}

void Registry::Create(const api::ResourceInfo& r, const std::string& ns, json obj, ReplyFn done) {
  if (!obj.is_object()) {
    done(BadRequest("the request body must be one " + r.kind + " object"));
    return;
  }
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = json::object();
  json& md = obj["metadata"];
  if (r.namespaced) {
    std::string body_ns = api::StringField(md, "namespace");
    if (!body_ns.empty() && body_ns != ns) {
      done(BadRequest("the namespace of the provided object (" + body_ns +
                      ") does not match the namespace sent on the request (" + ns + ")"));
      return;
    }
    md["namespace"] = ns;
  }
  // generateName: a name made unique by a random suffix, as Kubernetes does.
  if ((!md.contains("name") || md["name"] == "") && md.contains("generateName") &&
      md["generateName"].is_string() && !md["generateName"].get<std::string>().empty()) {
    static const char* kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
    thread_local std::mt19937 rng{std::random_device{}()};
    std::string name = md["generateName"].get<std::string>();
    for (int i = 0; i < 5; ++i)
      name += kAlphabet[rng() % 27];
    md["name"] = name;
  }
  std::string given_name = api::StringField(md, "name");
  auto prepared = r.prepare(std::move(obj));
  if (!prepared.ok()) {
    done(Invalid(r, given_name, prepared.status().message()));
    return;
  }
  json o = std::move(prepared).value();
  if (api::Depth(o) > api::kMaxNesting) {
    done(Invalid(r, given_name,
                 r.qualified_kind() + " \"" + given_name + "\" is invalid: nested more than " +
                     std::to_string(api::kMaxNesting) + " levels deep"));
    return;
  }
  json& m = o["metadata"];
  m.erase("resourceVersion");
  m["uid"] = NewUid();
  m["creationTimestamp"] = api::NowRfc3339();
  m.erase("deletionTimestamp");
  if (o.contains("spec")) m["generation"] = 1;
  if (r.initial_status) o["status"] = r.initial_status();

  CreateAttempt(r, ns, o, std::move(done), 1);
}

Holdings* Registry::HoldingsOf(const api::ResourceInfo& r) const {
  auto it = holdings_.find(r.name);
  return it == holdings_.end() ? nullptr : it->second;
}

void Registry::WithHeld(Holdings* h, std::function<void(std::map<std::string, std::string>)> then,
                        ReplyFn done) {
  if (!h) {
    then({});
    return;
  }
  storepb::RangeRequest rr;
  rr.set_key(h->Prefix());
  rr.set_range_end(PrefixEnd(h->Prefix()));
  node_.Range(rr, [then = std::move(then), done](Result<storepb::RangeResponse> res) {
    if (!res.ok()) {
      done(StoreFailure(res.status()));
      return;
    }
    std::map<std::string, std::string> used;
    for (const auto& kv : res->kvs())
      used[kv.key()] = kv.value();
    then(std::move(used));
  });
}

// Reply for a Holdings::Assign failure.
static Reply HoldingFailure(const api::ResourceInfo& r, const std::string& name, const Status& s) {
  if (s.code() == Status::Code::kInvalid) return Invalid(r, name, s.message());
  return ErrorReply(500, "InternalError", s.message());
}

void Registry::CreateAttempt(const api::ResourceInfo& r, const std::string& ns, const json& o,
                             ReplyFn done, int attempt) {
  std::string name = o["metadata"]["name"].get<std::string>();
  std::string key = Key(r, ns, name);
  WithHeld(
      HoldingsOf(r),
      [this, &r, ns, o, name, key, done, attempt](std::map<std::string, std::string> used) {
        json filled = o;  // a retry assigns again from the object as the client sent it
        std::set<std::string> held;
        if (Holdings* h = HoldingsOf(r)) {
          if (Status s = h->Assign(filled, nullptr, used, key); !s) {
            done(HoldingFailure(r, name, s));
            return;
          }
          held = h->Held(filled);
        }
        storepb::TxnRequest txn;
        PutIfAbsent(txn, key, Stored(filled));
        for (const auto& k : held)
          PutIfAbsent(txn, k, key);
        Commit(
            std::move(txn),
            [this, &r, ns, o, filled, name, key, held, done, attempt](
                bool ok, const storepb::TxnResponse&, int64_t rev) mutable {
              if (ok) {
                SetRv(filled, rev);
                done(Reply{201, std::move(filled)});
                return;
              }
              if (held.empty() || attempt >= kMaxAttempts) {
                done(AlreadyExists(r, name));
                return;
              }
              // The object exists, or another writer took what we picked: look again.
              storepb::RangeRequest rr;
              rr.set_key(key);
              rr.set_count_only(true);
              node_.Range(
                  rr, [this, &r, ns, o, name, done, attempt](Result<storepb::RangeResponse> res) {
                    if (!res.ok()) {
                      done(StoreFailure(res.status()));
                    } else if (res->count() > 0) {
                      done(AlreadyExists(r, name));
                    } else {
                      CreateAttempt(r, ns, o, done, attempt + 1);
                    }
                  });
            },
            done);
      },
      done);
}

void Registry::Read(const api::ResourceInfo& r, const std::string& ns, const std::string& name,
                    bool serializable, std::function<void(int64_t, json)> found, ReplyFn done) {
  storepb::RangeRequest rr;
  rr.set_key(Key(r, ns, name));
  rr.set_serializable(serializable);
  node_.Range(rr, [&r, name, found = std::move(found),
                   done = std::move(done)](Result<storepb::RangeResponse> res) {
    if (!res.ok()) {
      done(StoreFailure(res.status()));
      return;
    }
    if (res->kvs().empty()) {
      done(NotFound(r, name));
      return;
    }
    int64_t rev = res->kvs(0).mod_revision();
    auto obj = Decode(res->kvs(0).value(), rev);
    if (!obj.ok()) {
      done(ErrorReply(500, "InternalError", obj.status().message()));
      return;
    }
    try {
      found(rev, std::move(obj).value());
    } catch (const std::exception& e) {
      // A stored object of a shape nothing expected (written through /v3): answer, don't die.
      done(ErrorReply(500, "InternalError",
                      r.qualified_name() + " \"" + name + "\" cannot be processed: " + e.what()));
    }
  });
}

void Registry::Get(const api::ResourceInfo& r, const std::string& ns, const std::string& name,
                   bool serializable, ReplyFn done) {
  Read(
      r, ns, name, serializable,
      [done](int64_t, json obj) {
        done(Reply{200, std::move(obj)});
      },
      done);
}

void Registry::List(const api::ResourceInfo& r, const std::string& ns, const ListOptions& o,
                    ReplyFn done) {
  if (auto bad = CheckFields(r, o.fields)) {
    done(*bad);
    return;
  }
  std::string prefix = Prefix(r, ns);
  storepb::RangeRequest rr;
  rr.set_key(prefix);
  rr.set_range_end(PrefixEnd(prefix));
  rr.set_serializable(o.serializable);
  int64_t list_rev = 0;
  if (!o.continue_token.empty()) {
    std::string start;
    if (!DecodeContinue(o.continue_token, &list_rev, &start) || start.rfind(prefix, 0) != 0) {
      done(BadRequest("the continue token is not one this server issued for this list"));
      return;
    }
    rr.set_key(start);
    rr.set_revision(list_rev);
  }
  if (o.limit > 0) rr.set_limit(o.limit);
  node_.Range(rr, [&r, o, list_rev, done](Result<storepb::RangeResponse> res) {
    if (!res.ok()) {
      if (res.status().code() == Status::Code::kCompacted) {
        done(
            Gone("The provided continue parameter is too old to display a consistent list "
                 "result. You can start a new list without the continue parameter."));
      } else {
        done(StoreFailure(res.status()));
      }
      return;
    }
    int64_t rev = list_rev ? list_rev : res->header().revision();
    json items = json::array();
    for (const auto& kv : res->kvs()) {
      auto obj = Decode(kv.value(), kv.mod_revision());
      if (!obj.ok()) continue;  // not an object (raw /v3 writes): not part of the API
      if (Matches(r, obj.value(), o.labels, o.fields)) items.push_back(std::move(obj).value());
    }
    json md = {{"resourceVersion", std::to_string(rev)}};
    if (res->more() && !res->kvs().empty()) {
      md["continue"] = EncodeContinue(rev, res->kvs(res->kvs_size() - 1).key() + '\0');
      md["remainingItemCount"] = res->count() - res->kvs_size();
    }
    done(Reply{200, json{{"kind", r.list_kind()},
                         {"apiVersion", r.api_version()},
                         {"metadata", md},
                         {"items", std::move(items)}}});
  });
}

void Registry::Update(const api::ResourceInfo& r, const std::string& ns, const std::string& name,
                      Part part, Mutation mutate, ReplyFn done) {
  UpdateAttempt(r, ns, name, part, std::move(mutate), std::move(done), 1);
}

void Registry::UpdateAttempt(const api::ResourceInfo& r, const std::string& ns,
                             const std::string& name, Part part, Mutation mutate, ReplyFn done,
                             int attempt) {
  std::string key = Key(r, ns, name);
  Read(
      r, ns, name, false,
      [this, &r, ns, name, part, key, mutate, done, attempt](int64_t cur_rev, const json& current) {
        auto m = mutate(current);
        if (std::holds_alternative<Reply>(m)) {
          done(std::get<Reply>(std::move(m)));
          return;
        }
        json desired = std::get<json>(std::move(m));
        if (!desired.is_object()) {
          done(BadRequest("the request body must be one " + r.kind + " object"));
          return;
        }
        std::string want_rv = Rv(desired);
        if (!want_rv.empty() && want_rv != std::to_string(cur_rev)) {
          done(Conflict(r, name, kModified));
          return;
        }
        if (!desired.contains("metadata") || !desired["metadata"].is_object())
          desired["metadata"] = json::object();
        json& md = desired["metadata"];
        std::string body_name = api::StringField(md, "name");
        if (!body_name.empty() && body_name != name) {
          done(BadRequest("the name of the object (" + body_name +
                          ") does not match the name on the URL (" + name + ")"));
          return;
        }
        if (r.namespaced) {
          std::string body_ns = api::StringField(md, "namespace");
          if (!body_ns.empty() && body_ns != ns) {
            done(BadRequest("the namespace of the provided object (" + body_ns +
                            ") does not match the namespace sent on the request (" + ns + ")"));
            return;
          }
        }
        json next;
        if (part == Part::kStatus) {
          next = current;
          if (desired.contains("status")) {
            next["status"] = desired["status"];
          } else {
            next.erase("status");
          }
        } else {
          next = std::move(desired);
          next["metadata"]["name"] = name;
          if (r.namespaced) next["metadata"]["namespace"] = ns;
          if (r.has_status) {
            if (current.contains("status")) {
              next["status"] = current["status"];
            } else {
              next.erase("status");
            }
          }
        }
        // What the server owns stays as it was.
        const json& cmd = current["metadata"];
        for (const char* f : {"uid", "creationTimestamp", "generation"}) {
          if (cmd.contains(f)) {
            next["metadata"][f] = cmd[f];
          } else {
            next["metadata"].erase(f);
          }
        }
        auto prepared = r.prepare(std::move(next));
        if (!prepared.ok()) {
          done(Invalid(r, name, prepared.status().message()));
          return;
        }
        next = std::move(prepared).value();
        if (api::Depth(next) > api::kMaxNesting) {
          done(Invalid(r, name,
                       r.qualified_kind() + " \"" + name + "\" is invalid: nested more than " +
                           std::to_string(api::kMaxNesting) + " levels deep"));
          return;
        }
        if (next.value("spec", json()) != current.value("spec", json()))
          next["metadata"]["generation"] =
              (cmd.contains("generation") && cmd["generation"].is_number_integer()
                   ? cmd["generation"].get<int64_t>()
                   : 0) +
              1;
        Holdings* h = part == Part::kMain ? HoldingsOf(r) : nullptr;
        WithHeld(
            h,
            [this, &r, ns, name, part, key, mutate, done, attempt, cur_rev, current, h,
             next](std::map<std::string, std::string> used) mutable {
              std::set<std::string> add, drop;
              if (h) {
                if (Status s = h->Assign(next, &current, used, key); !s) {
                  done(HoldingFailure(r, name, s));
                  return;
                }
                std::set<std::string> now = h->Held(next), before = h->Held(current);
                for (const auto& k : now)
                  if (!before.count(k)) add.insert(k);
                for (const auto& k : before)
                  if (!now.count(k)) drop.insert(k);
              }
              SetRv(next, cur_rev);
              if (next == current) {
                done(Reply{200, current});  // nothing changed: no write, the resourceVersion stays
                return;
              }
              storepb::TxnRequest txn;
              *txn.add_compare() = ModEquals(key, cur_rev);
              auto* put = txn.add_success()->mutable_request_put();
              put->set_key(key);
              put->set_value(Stored(next));
              for (const auto& k : add)
                PutIfAbsent(txn, k, key);
              for (const auto& k : drop)
                txn.add_success()->mutable_request_delete_range()->set_key(k);
              // Lost a race: try again on the fresh object. A resourceVersion the client gave is
              // then stale and answered 409 above; a patch without one applies to the new state.
              Commit(
                  std::move(txn),
                  [this, &r, ns, name, part, mutate, done, attempt, next](
                      bool ok, const storepb::TxnResponse&, int64_t rev) mutable {
                    if (ok) {
                      SetRv(next, rev);
                      done(Reply{200, std::move(next)});
                    } else if (attempt >= kMaxAttempts) {
                      done(Conflict(r, name, kModified));
                    } else {
                      UpdateAttempt(r, ns, name, part, mutate, done, attempt + 1);
                    }
                  },
                  done);
            },
            done);
      },
      done);
}

void Registry::Delete(const api::ResourceInfo& r, const std::string& ns, const std::string& name,
                      const std::string& precondition_rv, ReplyFn done) {
  DeleteAttempt(r, ns, name, precondition_rv, std::move(done), 1);
}

void Registry::DeleteAttempt(const api::ResourceInfo& r, const std::string& ns,
                             const std::string& name, const std::string& precondition_rv,
                             ReplyFn done, int attempt) {
  std::string key = Key(r, ns, name);
  Read(
      r, ns, name, false,
      [this, &r, ns, name, key, precondition_rv, done, attempt](int64_t cur_rev, json obj) {
        if (!precondition_rv.empty() && precondition_rv != std::to_string(cur_rev)) {
          done(Conflict(r, name,
                        "the ResourceVersion in the precondition (" + precondition_rv +
                            ") does not match the ResourceVersion in record (" +
                            std::to_string(cur_rev) + "). The object might have been modified"));
          return;
        }
        storepb::TxnRequest txn;
        *txn.add_compare() = ModEquals(key, cur_rev);
        txn.add_success()->mutable_request_delete_range()->set_key(key);
        // What it held goes with it: written only with it, so no one else holds those keys.
        if (Holdings* h = HoldingsOf(r)) {
          for (const auto& k : h->Held(obj))
            txn.add_success()->mutable_request_delete_range()->set_key(k);
        }
        Commit(
            std::move(txn),
            [this, &r, ns, name, precondition_rv, done, attempt, obj](
                bool ok, const storepb::TxnResponse&, int64_t) mutable {
              if (ok) {
                done(Reply{200, std::move(obj)});
              } else if (attempt >= kMaxAttempts) {
                done(Conflict(r, name, kModified));
              } else {
                DeleteAttempt(r, ns, name, precondition_rv, done, attempt + 1);
              }
            },
            done);
      },
      done);
}

}  // namespace tug::cp
