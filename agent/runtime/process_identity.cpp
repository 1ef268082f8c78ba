#include "agent/runtime/process_identity.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/file.h"

namespace tug::agent {

namespace {

// Fields after the command name of /proc/<pid>/stat: state is field 3, starttime field 22.
bool ReadStat(pid_t pid, char* state, uint64_t* start_ticks) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return false;
  size_t close = line.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos || close + 2 >= line.size()) return false;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
    if (i == 3) *state = field.empty() ? '?' : field[0];
    if (i == 22) {
      try {
        *start_ticks = std::stoull(field);
      } catch (...) {
        return false;
      }
      return true;
    }
  }
  return false;
}

}  // namespace

std::optional<ProcessIdentity> IdentifyProcess(pid_t pid) {
  char state = '?';
  uint64_t start = 0;
  if (pid <= 0 || !ReadStat(pid, &state, &start)) return std::nullopt;
  return ProcessIdentity{pid, start};
}

bool StillRunning(const ProcessIdentity& id) {
  char state = '?';
  uint64_t start = 0;
  if (id.pid <= 0 || !ReadStat(id.pid, &state, &start)) return false;
  return start == id.start_ticks && state != 'Z' && state != 'X';
}

std::string CurrentBootId() {
  static const std::string id = [] {
    std::string s;
    if (!ReadWholeFile("/proc/sys/kernel/random/boot_id", &s)) return std::string();
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
      s.pop_back();
    return s;
  }();
  return id;
}

Status SaveIdentity(const std::string& path, const ProcessIdentity& id) {
  std::string text = nlohmann::json{{"pid", id.pid}, {"startTicks", id.start_ticks}}.dump() + "\n";
  return WriteFileAtomically(path, text, {.mode = 0644, .durable = true});
}

Result<ProcessIdentity> LoadIdentity(const std::string& path) {
  std::string text;
  if (Status s = ReadWholeFile(path, &text); !s) return s;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("pid") || !j["pid"].is_number_integer() ||
      !j.contains("startTicks") || !j["startTicks"].is_number_unsigned())
    return Status::Invalid(path + ": not a process record (want {\"pid\":N,\"startTicks\":N})");
  return ProcessIdentity{j["pid"].get<pid_t>(), j["startTicks"].get<uint64_t>()};
}

}  // namespace tug::agent
