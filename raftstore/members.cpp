#include "raftstore/members.h"

#include <algorithm>

namespace tug::store {

namespace {

// FNV-1a, 64 bits: stable across builds and machines (std::hash is neither).
uint64_t Fnv1a(const std::string& bytes, uint64_t h = 1469598103934665603ULL) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

uint64_t MemberIdFor(const std::string& name, const std::string& peer_addr) {
  uint64_t id = Fnv1a(name + '\0' + peer_addr);
  return id == 0 ? 1 : id;  // 0 means "no member" to the Raft core
}

uint64_t ClusterIdFor(std::vector<uint64_t> ids) {
  std::sort(ids.begin(), ids.end());
  std::string bytes;
  for (uint64_t id : ids)
    bytes += std::to_string(id) + ',';
  uint64_t c = Fnv1a(bytes);
  return c == 0 ? 1 : c;
}

std::vector<raftpb::Entry> BootstrapEntries(const std::vector<storepb::MemberRecord>& initial,
                                            uint64_t cluster_id) {
  std::vector<raftpb::Entry> out;
  uint64_t index = 0;
  for (const auto& m : initial) {
    storepb::MemberRecord rec = m;
    rec.set_cluster_id(cluster_id);
    raftpb::ConfChange cc;
    cc.set_type(raftpb::CONF_ADD_VOTER);
    cc.set_node_id(rec.id());
    cc.set_context(rec.SerializeAsString());
    raftpb::Entry e;
    e.set_term(1);
    e.set_index(++index);
    e.set_type(raftpb::ENTRY_CONF_CHANGE);
    e.set_data(cc.SerializeAsString());
    out.push_back(std::move(e));
  }
  return out;
}

Result<MemberChange> DecodeMemberChange(const raftpb::Entry& e) {
  MemberChange c;
  if (e.type() != raftpb::ENTRY_CONF_CHANGE || !c.change.ParseFromString(e.data()))
    return Status::Invalid("entry " + std::to_string(e.index()) + " is not a configuration change");
  if (c.change.node_id() == 0)
    return Status::Invalid("configuration entry " + std::to_string(e.index()) + " names no member");
  if (c.change.type() == raftpb::CONF_ADD_VOTER) {
    if (!c.member.ParseFromString(c.change.context()) || c.member.id() != c.change.node_id() ||
        c.member.name().empty() || c.member.peer_addr().empty())
      return Status::Invalid("configuration entry " + std::to_string(e.index()) + " adds member " +
                             std::to_string(c.change.node_id()) +
                             " without a usable member record");
  } else {
    c.member.set_id(c.change.node_id());
  }
  return c;
}

void ApplyMemberChange(const MemberChange& c, std::map<uint64_t, storepb::MemberRecord>* members,
                       uint64_t* cluster_id) {
  if (c.change.type() == raftpb::CONF_ADD_VOTER) {
    if (*cluster_id == 0 && c.member.cluster_id() != 0) *cluster_id = c.member.cluster_id();
    storepb::MemberRecord kept = c.member;
    kept.clear_cluster_id();
    (*members)[kept.id()] = std::move(kept);
  } else {
    members->erase(c.change.node_id());
  }
}

}  // namespace tug::store
