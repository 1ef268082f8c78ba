// Where a pod's files live: each container's directories and log, and the pod's checkpoint
// (the pod as the API gave it, and the supervisor's state of it) that lets a restarted agent
// take its running containers over. The supervisor does all its file work through this, so
// tests can keep it in memory.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace tug::agent {

struct PodKey {
  std::string ns, name, uid;
};

struct ContainerPaths {
  std::string state_dir;  // the runtime's files for this container
  std::string work_dir;   // its working directory (and HOME)
  std::string log_path;   // stdout and stderr are appended here
};

struct Checkpoint {
  std::string pod;    // the pod's JSON, as saved by SavePod
  std::string state;  // the supervisor's state, as saved by SaveState ("" if none)
};

class PodFiles {
 public:
  virtual ~PodFiles() = default;
  // Makes a container's directories (if missing) and says where its files go.
  virtual ContainerPaths Container(const PodKey& pod, const std::string& container) = 0;
  // Makes the directory of one of the pod's emptyDir volumes (if missing); it goes with the
  // pod's other files.
  virtual std::string VolumeDir(const PodKey& pod, const std::string& volume) = 0;
  virtual Status SavePod(const PodKey& pod, const std::string& text) = 0;
  virtual Status SaveState(const PodKey& pod, const std::string& text) = 0;
  // Every pod with a checkpoint, as an earlier agent process left them.
  virtual std::vector<Checkpoint> Load() = 0;
  // The pod is gone: its checkpoint and every file of its containers (logs too) go.
  virtual void Remove(const PodKey& pod) = 0;
  // Keeps a container's log under `max_bytes` (log_file.h's rotation).
  virtual void RotateLog(const std::string& log_path, int64_t max_bytes) = 0;
};

// The real ones: `<pods_dir>/<ns>_<name>_<uid>/` with pod.json, state.json and a folder per
// container (`work/`, `log`). Checkpoints are written whole or not at all (tmp + rename) but
// not fsync'd: they are there for an agent that restarts while the machine stays up (the page
// cache survives a process); after a machine crash the containers are gone with it. An fsync
// per container start cost ~10 ms each, serialized, and put seconds between a burst of binds
// and the last container running.
class DiskPodFiles : public PodFiles {
 public:
  explicit DiskPodFiles(std::string pods_dir);
  ContainerPaths Container(const PodKey& pod, const std::string& container) override;
  std::string VolumeDir(const PodKey& pod, const std::string& volume) override;
  Status SavePod(const PodKey& pod, const std::string& text) override;
  Status SaveState(const PodKey& pod, const std::string& text) override;
  std::vector<Checkpoint> Load() override;
  void Remove(const PodKey& pod) override;
  void RotateLog(const std::string& log_path, int64_t max_bytes) override;

 private:
  std::string Dir(const PodKey& pod) const;
  std::string dir_;
};

}  // namespace tug::agent
