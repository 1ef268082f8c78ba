#include "agent/runtime/memory_cgroup.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <fstream>
#include <sstream>

#include "base/file.h"

namespace tug::agent {

namespace {

bool Exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

bool WriteFile(const std::string& path, const std::string& value) {
  std::ofstream f(path);
  if (!f) return false;
  f << value;
  f.flush();
  return static_cast<bool>(f);
}

std::string ReadFile(const std::string& path) {
  std::string s;
  if (!ReadWholeFile(path, &s)) return "";
  return s;
}

// This process's group in the hierarchy that has `controller` ("" for v2's unified one).
std::string OwnGroup(const std::string& controller) {
  std::istringstream in(ReadFile("/proc/self/cgroup"));
  std::string line;
  while (std::getline(in, line)) {
    size_t a = line.find(':');
    size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    std::string names = line.substr(a + 1, b - a - 1);
    std::string path = line.substr(b + 1);
    if (controller.empty()
            ? names.empty()
            : (("," + names + ",").find("," + controller + ",") != std::string::npos))
      return path == "/" ? "" : path;
  }
  return "";
}

// Makes `dir` (one level) and checks that a memory limit can be written there.
Status TryBase(const std::string& dir, bool v2) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return Status::Error("cannot create " + dir + ": " + Errno());
  if (v2) {
    // Children of the base need the memory controller handed down to them.
    if (!WriteFile(dir + "/cgroup.subtree_control", "+memory"))
      return Status::Error("cannot enable the memory controller in " + dir);
    return Status::Ok();
  }
  if (!Exists(dir + "/memory.limit_in_bytes"))
    return Status::Error(dir + " has no memory.limit_in_bytes");
  return Status::Ok();
}

}  // namespace

std::string FileSafe(const std::string& s) {
  std::string out;
  for (char c : s)
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') ? c : '_';
  return out;
}

Result<MemoryCgroups> MemoryCgroups::Detect(const std::string& node_name) {
  MemoryCgroups g;
  std::string leaf = "tug-" + FileSafe(node_name);
  if (Exists("/sys/fs/cgroup/cgroup.controllers")) {
    std::string controllers = ReadFile("/sys/fs/cgroup/cgroup.controllers");
    if (controllers.find("memory") == std::string::npos)
      return Status::Error("cgroup v2 without the memory controller");
    // Under our own group if it is the root (a container's namespace), else beside the
    // root's children: a group with processes cannot hand controllers down (v2's rule).
    g.v2_ = true;
    g.base_ = "/sys/fs/cgroup/" + leaf;
    std::string root_ctl = ReadFile("/sys/fs/cgroup/cgroup.subtree_control");
    if (root_ctl.find("memory") == std::string::npos &&
        !WriteFile("/sys/fs/cgroup/cgroup.subtree_control", "+memory"))
      return Status::Error("cannot enable the memory controller at the cgroup v2 root");
    if (Status s = TryBase(g.base_, true); !s) return s;
    return g;
  }
  if (Exists("/sys/fs/cgroup/memory/memory.limit_in_bytes") ||
      Exists("/sys/fs/cgroup/memory/cgroup.procs")) {
    g.base_ = "/sys/fs/cgroup/memory" + OwnGroup("memory") + "/" + leaf;
    if (Status s = TryBase(g.base_, false); !s) return s;
    return g;
  }
  return Status::Error("no memory cgroup is mounted at /sys/fs/cgroup");
}

Result<std::string> MemoryCgroups::Create(const std::string& container_id, int64_t limit_bytes,
                                          int64_t request_bytes) const {
  std::string dir = base_ + "/" + FileSafe(container_id);
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return Status::Error("cannot create cgroup " + dir + ": " + Errno());
  if (limit_bytes > 0) {
    std::string file = dir + (v2_ ? "/memory.max" : "/memory.limit_in_bytes");
    if (!WriteFile(file, std::to_string(limit_bytes)))
      return Status::Error("cannot set the memory limit in " + file);
    if (v2_) WriteFile(dir + "/memory.swap.max", "0");  // the limit means memory, not swap
  }
  if (request_bytes > 0) {
    WriteFile(dir + (v2_ ? "/memory.low" : "/memory.soft_limit_in_bytes"),
              std::to_string(request_bytes));
  }
  return dir + "/cgroup.procs";
}

std::string MemoryCgroups::GroupOf(const std::string& procs_file) {
  size_t slash = procs_file.rfind('/');
  return slash == std::string::npos ? procs_file : procs_file.substr(0, slash);
}

bool MemoryCgroups::OomKilled(const std::string& group) {
  if (group.empty()) return false;
  for (const char* file : {"/memory.events", "/memory.oom_control"}) {
    std::istringstream in(ReadFile(group + file));
    std::string key;
    int64_t value = 0;
    while (in >> key >> value) {
      if (key == "oom_kill" && value > 0) return true;
    }
  }
  return false;
}

bool MemoryCgroups::LimitReached(const std::string& group) {
  if (group.empty()) return false;
  std::istringstream failcnt(ReadFile(group + "/memory.failcnt"));
  int64_t n = 0;
  if (failcnt >> n && n > 0) return true;
  std::istringstream events(ReadFile(group + "/memory.events"));
  std::string key;
  while (events >> key >> n)
    if (key == "max" && n > 0) return true;
  return false;
}

int MemoryCgroups::SignalAll(const std::string& group, int sig) {
  if (group.empty()) return 0;
  std::istringstream in(ReadFile(group + "/cgroup.procs"));
  int n = 0;
  for (long pid; in >> pid;) {
    if (pid > 1 && ::kill(static_cast<pid_t>(pid), sig) == 0) ++n;
  }
  return n;
}

void MemoryCgroups::Remove(const std::string& group) {
  if (!group.empty()) ::rmdir(group.c_str());
}

}  // namespace tug::agent
