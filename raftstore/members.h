// Who the members of a cluster are, as the replicated state records them (etcd's approach).
//
// - A member's id is stable for its life, derived from its name and peer address when the
//   cluster is bootstrapped (MemberIdFor), never a position in a list: a membership change
//   (a later issue) adds and removes ids without renumbering anyone.
// - A brand-new cluster's log starts with one configuration entry per initial member
//   (BootstrapEntries: a ConfChange adding it, its MemberRecord as the context), at indexes
//   1..N in term 1, written identically by every member before it first starts. Those
//   entries are applied like any other configuration entry, so the member table (kept in
//   KvStore and its snapshots) is built by the one path later changes also take.
// - The cluster id is derived from the initial member ids and travels in the peers' hello,
//   so a member started with another --initial-cluster is refused rather than merged.
// - Data dirs from before member records (their logs start with no configuration entries)
//   keep the old ids: positions in the --initial-cluster sorted by name (RaftNode::Open).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "raftstore/raft.pb.h"
#include "raftstore/store.pb.h"

namespace tug::store {

uint64_t MemberIdFor(const std::string& name, const std::string& peer_addr);
uint64_t ClusterIdFor(std::vector<uint64_t> member_ids);

// `initial` sorted by name, with ids already assigned.
std::vector<raftpb::Entry> BootstrapEntries(const std::vector<storepb::MemberRecord>& initial,
                                            uint64_t cluster_id);

// A configuration entry's change and the member record it carries, or why it is unusable (a
// corrupt or foreign entry: every member skips the same one, so they stay identical).
struct MemberChange {
  raftpb::ConfChange change;
  storepb::MemberRecord member;
};
Result<MemberChange> DecodeMemberChange(const raftpb::Entry& e);

// Applies a decoded change to a member table (records by id).
void ApplyMemberChange(const MemberChange& c, std::map<uint64_t, storepb::MemberRecord>* members,
                       uint64_t* cluster_id);

}  // namespace tug::store
