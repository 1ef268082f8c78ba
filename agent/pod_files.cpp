#include "agent/pod_files.h"

#include <filesystem>

#include "agent/log_file.h"
#include "agent/runtime/memory_cgroup.h"
#include "base/file.h"

namespace tug::agent {

namespace fs = std::filesystem;

DiskPodFiles::DiskPodFiles(std::string pods_dir) : dir_(std::move(pods_dir)) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
}

std::string DiskPodFiles::Dir(const PodKey& p) const {
  return dir_ + "/" + FileSafe(p.ns) + "_" + FileSafe(p.name) + "_" + FileSafe(p.uid);
}

ContainerPaths DiskPodFiles::Container(const PodKey& pod, const std::string& container) {
  std::string cdir = Dir(pod) + "/" + FileSafe(container);
  std::error_code ec;
  fs::create_directories(cdir + "/work", ec);
  return {cdir, cdir + "/work", cdir + "/log"};
}

std::string DiskPodFiles::VolumeDir(const PodKey& pod, const std::string& volume) {
  // Container names are DNS labels, which cannot start with '.': no clash with theirs.
  std::string dir = Dir(pod) + "/.volumes/" + FileSafe(volume);
  std::error_code ec;
  fs::create_directories(dir, ec);
  return dir;
}

Status DiskPodFiles::SavePod(const PodKey& pod, const std::string& text) {
  std::error_code ec;
  fs::create_directories(Dir(pod), ec);
  return WriteFileAtomically(Dir(pod) + "/pod.json", text, {.mode = 0644, .durable = false});
}

Status DiskPodFiles::SaveState(const PodKey& pod, const std::string& text) {
  return WriteFileAtomically(Dir(pod) + "/state.json", text, {.mode = 0644, .durable = false});
}

std::vector<Checkpoint> DiskPodFiles::Load() {
  std::vector<Checkpoint> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir_, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::string dir = it->path().string();
    Checkpoint c;
    if (!ReadWholeFile(dir + "/pod.json", &c.pod)) continue;
    (void)ReadWholeFile(dir + "/state.json", &c.state);
    out.push_back(std::move(c));
  }
  return out;
}

void DiskPodFiles::Remove(const PodKey& pod) {
  std::error_code ec;
  fs::remove_all(Dir(pod), ec);
}

void DiskPodFiles::RotateLog(const std::string& log_path, int64_t max_bytes) {
  (void)agent::RotateLog(log_path, max_bytes);
}

}  // namespace tug::agent
