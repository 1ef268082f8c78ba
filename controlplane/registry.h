// Objects of every kind kept in the replicated store, one key per object:
//
//   /registry/<resource>/<namespace>/<name>     namespaced kinds (pods, deployments, events)
//   /registry/<resource>/<name>                 cluster-scoped kinds (nodes)
//
// The stored value is the object's JSON without its resourceVersion: that is the key's
// mod_revision, set on every read, so it is always the revision of the object's last change.
//
// Every write is a store transaction guarded by what it read: create only if the key does not
// exist, update and delete only if the key's mod_revision is still the one read. So two
// writers never overwrite each other: a write whose resourceVersion is stale gets 409 (and
// one without a resourceVersion is retried on the fresh object, as Kubernetes does). Nothing
// is written when a request is rejected.
//
// Runs on the node's io thread; callbacks are called there.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "api/resource.h"
#include "api/selector.h"
#include "controlplane/reply.h"
#include "raftstore/store.pb.h"

namespace tug::store {
class Store;
}

namespace tug::cp {

struct ListOptions {
  api::LabelSelector labels;
  api::FieldSelector fields;
  int64_t limit = 0;           // at most this many objects per page (0: all)
  std::string continue_token;  // from the previous page's metadata.continue
  bool serializable = false;   // this member's state, without asking the leader (rv=0)
};

// What objects of a kind hold in the store besides their own key (a Service's cluster IP and
// node ports, service_allocator.h): keys written and deleted in the same transaction as the
// object, each guarded by "does not exist yet", whose values name the holder's key.
class Holdings {
 public:
  virtual ~Holdings() = default;
  virtual std::string Prefix() const = 0;  // every key held starts with this
  virtual std::set<std::string> Held(const nlohmann::json& obj) const = 0;
  // Fills in what `obj` should hold, given every key held now (key -> holder's key) and, for
  // an update, the object as it is; Status::Invalid (422) or another error (500) if it cannot.
  virtual Status Assign(nlohmann::json& obj, const nlohmann::json* old,
                        const std::map<std::string, std::string>& used,
                        const std::string& owner) = 0;
};

class Registry {
 public:
  explicit Registry(store::Store& node) : node_(node) {}

  // Objects of `resource` (a plural) hold keys through `h` (which must outlive the registry).
  void SetHoldings(const std::string& resource, Holdings* h) { holdings_[resource] = h; }

  // POST: defaults, validation, uid, creationTimestamp, generation 1. `ns` is the URL's
  // namespace ("" for cluster-scoped kinds). Replies 201 with the stored object.
  void Create(const api::ResourceInfo& r, const std::string& ns, nlohmann::json obj, ReplyFn done);

  void Get(const api::ResourceInfo& r, const std::string& ns, const std::string& name,
           bool serializable, ReplyFn done);

  // A List object (`<Kind>List`) with metadata.resourceVersion, the revision the list was
  // read at (watch from there to miss nothing), and metadata.continue when there is more.
  // `ns` "" lists every namespace.
  void List(const api::ResourceInfo& r, const std::string& ns, const ListOptions& o, ReplyFn done);

  // Which part of the object a write may change: the spec and metadata (the status is kept),
  // or only the status (everything else is kept).
  enum class Part { kMain, kStatus };
  // Given the current object (with its resourceVersion), the object as it should be, or an
  // error Reply. If the result carries a resourceVersion it is a precondition: a different
  // current one is a 409 Conflict.
  using Mutation = std::function<std::variant<nlohmann::json, Reply>(const nlohmann::json&)>;

  // PUT, PATCH and the subresources: read, mutate, validate, write if changed. An object the
  // mutation leaves unchanged is not written (its resourceVersion stays).
  void Update(const api::ResourceInfo& r, const std::string& ns, const std::string& name, Part part,
              Mutation mutate, ReplyFn done);

  // DELETE: replies with the object as it was. `precondition_rv` (if not empty) must be the
  // current resourceVersion.
  void Delete(const api::ResourceInfo& r, const std::string& ns, const std::string& name,
              const std::string& precondition_rv, ReplyFn done);

  static std::string Key(const api::ResourceInfo& r, const std::string& ns,
                         const std::string& name);
  // Every key of the kind in `ns` ("" = all namespaces) starts with this.
  static std::string Prefix(const api::ResourceInfo& r, const std::string& ns);
  // The range end that covers every key starting with `prefix` (which ends in '/').
  static std::string PrefixEnd(const std::string& prefix);
  // A stored object, with metadata.resourceVersion set to `rv` (the key's mod_revision).
  static Result<nlohmann::json> Decode(const std::string& value, int64_t rv);

  // A 400 if the selector names a field the kind cannot be selected by.
  static std::optional<Reply> CheckFields(const api::ResourceInfo& r,
                                          const api::FieldSelector& fields);
  // Whether `obj` passes the selectors (a field the kind does not support never matches).
  static bool Matches(const api::ResourceInfo& r, const nlohmann::json& obj,
                      const api::LabelSelector& labels, const api::FieldSelector& fields);

 private:
  // Reads one object: `found(resourceVersion, object)`, or `done` with 404 or a store error.
  void Read(const api::ResourceInfo& r, const std::string& ns, const std::string& name,
            bool serializable, std::function<void(int64_t, nlohmann::json)> found, ReplyFn done);
  void UpdateAttempt(const api::ResourceInfo& r, const std::string& ns, const std::string& name,
                     Part part, Mutation mutate, ReplyFn done, int attempt);
  void DeleteAttempt(const api::ResourceInfo& r, const std::string& ns, const std::string& name,
                     const std::string& precondition_rv, ReplyFn done, int attempt);
  void CreateAttempt(const api::ResourceInfo& r, const std::string& ns, const nlohmann::json& o,
                     ReplyFn done, int attempt);
  Holdings* HoldingsOf(const api::ResourceInfo& r) const;
  // Calls `then` with every key held through `h` (none when null), read linearizably, or
  // `done` with the store's error.
  void WithHeld(Holdings* h, std::function<void(std::map<std::string, std::string>)> then,
                ReplyFn done);
  // Proposes `txn`; `done(succeeded, response)` or a failure Reply.
  void Commit(storepb::TxnRequest txn,
              std::function<void(bool, const storepb::TxnResponse&, int64_t)> on_done,
              ReplyFn on_fail);

  store::Store& node_;
  std::map<std::string, Holdings*> holdings_;
};

// A new random UUID (version 4), for metadata.uid.
std::string NewUid();

}  // namespace tug::cp
