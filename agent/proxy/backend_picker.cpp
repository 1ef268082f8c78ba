#include "agent/proxy/backend_picker.h"

#include <algorithm>
#include <iterator>
#include <limits>

namespace tug::agent::proxy {

namespace {

// Times come from the caller; a far-off or negative one must not overflow (undefined
// behaviour), only saturate.
int64_t AddSaturating(int64_t a, int64_t b) {
  if (b > 0 && a > std::numeric_limits<int64_t>::max() - b)
    return std::numeric_limits<int64_t>::max();
  if (b < 0 && a < std::numeric_limits<int64_t>::min() - b)
    return std::numeric_limits<int64_t>::min();
  return a + b;
}

}  // namespace

std::string Backend::String() const {
  bool v6 = ip.find(':') != std::string::npos;
  return (v6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

BackendPicker::BackendPicker(Affinity a, int64_t affinity_timeout_ms, int64_t set_aside_ms)
    : affinity_(a),
      affinity_timeout_ms_(std::max<int64_t>(affinity_timeout_ms, 0)),
      set_aside_ms_(std::max<int64_t>(set_aside_ms, 0)) {}

int BackendPicker::Find(const Backend& b) const {
  auto it = index_.find({b.ip, b.port});
  return it == index_.end() ? -1 : static_cast<int>(it->second);
}

bool BackendPicker::Expired(const Client& c, int64_t now_ms) const {
  return now_ms >= AddSaturating(c.last_ms, affinity_timeout_ms_);
}

void BackendPicker::ForgetClient(const std::string& ip) {
  auto it = clients_.find(ip);
  if (it == clients_.end()) return;
  lru_.erase(it->second);
  clients_.erase(it);
}

void BackendPicker::SetBackends(std::vector<Backend> backends) {
  std::vector<Entry> entries;
  std::map<Key, size_t> index;
  for (Backend& b : backends) {
    Key key{b.ip, b.port};
    if (index.count(key)) continue;
    int old = Find(b);
    index[key] = entries.size();
    entries.push_back(old >= 0 ? backends_[old] : Entry{std::move(b)});
  }
  // The round goes on from the same backend if it is still there.
  size_t cursor = 0;
  if (!backends_.empty() && !entries.empty()) {
    const Backend& next = backends_[cursor_ % backends_.size()].backend;
    auto it = index.find({next.ip, next.port});
    cursor = it != index.end() ? it->second : cursor_ % entries.size();
  }
  backends_ = std::move(entries);
  index_ = std::move(index);
  cursor_ = cursor;
  for (auto it = lru_.begin(); it != lru_.end();) {
    if (Find(it->backend) >= 0) {
      ++it;
    } else {
      clients_.erase(it->ip);
      it = lru_.erase(it);
    }
  }
}

void BackendPicker::SetAffinity(Affinity a, int64_t timeout_ms) {
  affinity_ = a;
  affinity_timeout_ms_ = std::max<int64_t>(timeout_ms, 0);
  if (a == Affinity::kNone) {
    lru_.clear();
    clients_.clear();
  }
}

std::vector<Backend> BackendPicker::Order(const std::string& client_ip, int64_t now_ms) {
  std::vector<Backend> order;
  if (backends_.empty()) return order;
  auto aside = [&](size_t i) {
    return backends_[i].set_aside && now_ms < backends_[i].set_aside_until;
  };
  int sticky = -1;
  if (affinity_ == Affinity::kClientIP && !client_ip.empty()) {
    auto it = clients_.find(client_ip);
    if (it != clients_.end()) {
      int i = Find(it->second->backend);
      if (Expired(*it->second, now_ms))
        ForgetClient(client_ip);
      else if (i >= 0 && !aside(i))
        sticky = i;
    }
  }
  size_t n = backends_.size();
  size_t start = cursor_ % n;
  cursor_ = (start + 1) % n;
  order.reserve(n);
  if (sticky >= 0) order.push_back(backends_[sticky].backend);
  std::vector<size_t> set_aside;
  bool moved = false;
  for (size_t k = 0; k < n; ++k) {
    size_t i = (start + k) % n;
    if (aside(i)) {
      set_aside.push_back(i);
      continue;
    }
    if (!moved) cursor_ = (i + 1) % n;
    moved = true;
    if (static_cast<int>(i) != sticky) order.push_back(backends_[i].backend);
  }
  std::stable_sort(set_aside.begin(), set_aside.end(), [&](size_t a, size_t b) {
    return backends_[a].set_aside_until < backends_[b].set_aside_until;
  });
  for (size_t i : set_aside)
    order.push_back(backends_[i].backend);
  return order;
}

void BackendPicker::Failed(const Backend& b, int64_t now_ms) {
  int i = Find(b);
  if (i < 0) return;
  backends_[i].set_aside = true;
  backends_[i].set_aside_until = AddSaturating(now_ms, set_aside_ms_);
}

void BackendPicker::Connected(const Backend& b, const std::string& client_ip, int64_t now_ms) {
  int i = Find(b);
  if (i < 0) return;
  backends_[i].set_aside = false;
  if (affinity_ != Affinity::kClientIP || client_ip.empty()) return;
  auto it = clients_.find(client_ip);
  if (it != clients_.end()) {
    it->second->backend = b;
    it->second->last_ms = now_ms;
    lru_.splice(lru_.end(), lru_, it->second);
    return;
  }
  while (!lru_.empty() && (Expired(lru_.front(), now_ms) || clients_.size() >= kMaxClients)) {
    clients_.erase(lru_.front().ip);
    lru_.pop_front();
  }
  lru_.push_back({client_ip, b, now_ms});
  clients_[client_ip] = std::prev(lru_.end());
}

}  // namespace tug::agent::proxy
