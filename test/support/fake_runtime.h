// Test doubles for the supervisor's parts: a runtime whose starts and exits the test decides,
// pod files kept in memory, and host ports handed out without sockets. No processes, no disk,
// no waiting: a supervisor over these runs entirely on the test's fake time.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agent/host_ports.h"
#include "agent/pod_files.h"
#include "agent/runtime/runtime.h"

namespace tug::agent::testing {

class FakeRuntime : public Runtime {
 public:
  using Accepts = std::function<std::optional<Refusal>(const ContainerLaunch&)>;
  explicit FakeRuntime(std::string name = "fake", Accepts accepts = {})
      : name_(std::move(name)), accepts_(std::move(accepts)) {}

  std::string name() const override { return name_; }
  std::optional<Refusal> CanRun(const ContainerLaunch& c) const override {
    return accepts_ ? accepts_(c) : std::nullopt;
  }
  void Start(uint64_t run, const ContainerLaunch& c) override { starting[run] = c; }
  Status Adopt(uint64_t run, const ContainerHandle& h) override {
    if (refuse_adopt) return Status::NotFound("the fake forgot it");
    running[run] = h;
    return Status::Ok();
  }
  void Stop(const ContainerHandle& h, bool force) override {
    stops.push_back({h.id, force});
    if (exit_on_stop) {
      for (auto& [run, rh] : running) {
        if (rh.id == h.id) {
          Exit(run, force ? 137 : 143, "Error");
          break;
        }
      }
    }
  }
  std::vector<RuntimeEvent> Poll() override { return std::exchange(events_, {}); }
  Result<std::string> Logs(const std::string& log_path, int tail_lines) override {
    return "the " + name_ + " runtime's log at " + log_path + ", last " +
           std::to_string(tail_lines) + " lines";
  }
  std::string MemoryEnforcement() const override { return ""; }
  bool GivesPodNetwork(const ContainerLaunch& c) const override {
    return gives_pod_network && !c.host_network;
  }

  // The test's side: ends the start of `run` one way or the other, or ends the container.
  ContainerHandle FinishStart(uint64_t run, const std::string& image_id = "") {
    ContainerHandle h{name_, "c" + std::to_string(run), {{"run", run}}, image_id};
    starting.erase(run);
    running[run] = h;
    events_.push_back({RuntimeEvent::Type::kStarted, run, h, "", "", false, {}});
    return h;
  }
  void FailStart(uint64_t run, const std::string& message) {
    starting.erase(run);
    events_.push_back({RuntimeEvent::Type::kStartFailed, run, {}, message, "", false, {}});
  }
  // An image that could not be had (ErrImagePull, InvalidImageName, ...).
  void FailImage(uint64_t run, const std::string& reason, const std::string& message) {
    starting.erase(run);
    events_.push_back({RuntimeEvent::Type::kStartFailed, run, {}, message, reason, true, {}});
  }
  // A step of a start worth an Event (Pulling, Pulled, Created).
  void Progress(uint64_t run, const std::string& reason, const std::string& message) {
    events_.push_back({RuntimeEvent::Type::kProgress, run, {}, message, reason, false, {}});
  }
  void Exit(uint64_t run, int code, const std::string& reason) {
    running.erase(run);
    events_.push_back({RuntimeEvent::Type::kExited, run, {}, "", "", false, {code, reason, ""}});
  }
  // The one start in flight (a test failure if there is not exactly one).
  uint64_t OnlyStarting() const { return starting.size() == 1 ? starting.begin()->first : 0; }
  uint64_t OnlyRunning() const { return running.size() == 1 ? running.begin()->first : 0; }

  std::map<uint64_t, ContainerLaunch> starting;     // starts not yet finished, by run
  std::map<uint64_t, ContainerHandle> running;      // started or adopted, by run
  std::vector<std::pair<std::string, bool>> stops;  // container id, force
  bool exit_on_stop = true;                         // a stopped container exits at once
  bool refuse_adopt = false;
  bool gives_pod_network = false;  // as runc: each pod in a network of its own

 private:
  std::string name_;
  Accepts accepts_;
  std::vector<RuntimeEvent> events_;
};

class MemoryPodFiles : public PodFiles {
 public:
  ContainerPaths Container(const PodKey& pod, const std::string& container) override {
    std::string dir = "/mem/" + pod.ns + "_" + pod.name + "_" + pod.uid + "/" + container;
    return {dir, dir + "/work", dir + "/log"};
  }
  std::string VolumeDir(const PodKey& pod, const std::string& volume) override {
    return "/mem/" + pod.ns + "_" + pod.name + "_" + pod.uid + "/.volumes/" + volume;
  }
  Status SavePod(const PodKey& pod, const std::string& text) override {
    pods[pod.uid].pod = text;
    return Status::Ok();
  }
  Status SaveState(const PodKey& pod, const std::string& text) override {
    pods[pod.uid].state = text;
    return Status::Ok();
  }
  std::vector<Checkpoint> Load() override {
    std::vector<Checkpoint> out;
    for (const auto& [uid, c] : pods)
      out.push_back(c);
    return out;
  }
  void Remove(const PodKey& pod) override { pods.erase(pod.uid); }
  void RotateLog(const std::string&, int64_t) override { ++rotations; }

  std::map<std::string, Checkpoint> pods;  // by uid
  int rotations = 0;
};

class CountingHostPorts : public HostPorts {
 public:
  int Allocate() override {
    int p = next_++;
    taken.insert(p);
    return p;
  }
  void Reserve(int port) override { taken.insert(port); }
  void Release(int port) override { taken.erase(port); }
  std::set<int> taken;

 private:
  int next_ = 40000;
};

}  // namespace tug::agent::testing
