// The OCI runtime spec (a bundle's config.json) for one container, from its image's config and
// its pod's spec, decided as Kubernetes and containerd decide it. Pure: no file is read here
// (the image's /etc/passwd and /etc/group come in as text).
//
//   - The process: `command` replaces the image's Entrypoint (and drops its Cmd); `args`
//     replaces its Cmd; with neither, Entrypoint then Cmd. Nothing at all is an error.
//   - The environment: the image's, then the pod's (a name set by both takes the pod's value,
//     in the image's position); PATH defaults to the usual one; HOSTNAME is the pod's name.
//   - The user: `runAsUser`/`runAsGroup` if set, else the image's User ("uid", "uid:gid",
//     "name", "name:group", names looked up in the image's /etc/passwd and /etc/group),
//     else root; the primary group from /etc/passwd, supplementary groups from /etc/group.
//   - The working directory: the container's workingDir, else the image's, else "/".
//   - Resources: memory limit; CPU limit as CFS quota over a 100 ms period; CPU request as
//     shares (milli-CPUs × 1024 / 1000, at least 2, as the kubelet converts); a pids limit.
//   - Docker's default capabilities, no new privileges, the usual masked and read-only paths,
//     namespaces pid, ipc, uts, mount and network (a given network namespace joined, or the
//     host's shared when `host_network`).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace tug::agent {

struct OciMount {
  std::string source, destination;
  bool read_only = false;
};

struct OciContainer {
  std::string hostname;
  std::string rootfs;  // absolute path of the container's root directory
  // From the image.
  std::vector<std::string> image_entrypoint, image_cmd, image_env;
  std::string image_working_dir, image_user;
  std::string passwd, group;  // the image's /etc/passwd and /etc/group ("" if absent)
  // From the pod.
  std::vector<std::string> command, args;
  std::vector<std::string> env;  // "NAME=value"
  std::string working_dir;
  std::optional<int64_t> run_as_user, run_as_group;
  std::vector<OciMount> mounts;  // bind mounts: volumes, /etc/hosts, /etc/resolv.conf
  bool host_network = false;
  std::string netns_path;  // a network namespace to join; "" with !host_network: a new one
  // Resources (0: none).
  int64_t memory_limit_bytes = 0;
  int64_t cpu_limit_millis = 0;
  int64_t cpu_request_millis = 0;
  int64_t pids_limit = 0;
  // RLIMIT_NOFILE, soft and hard: containerd's 1048576, or lower where the agent's own hard
  // limit is lower (a process cannot raise it).
  int64_t nofile_limit = 1048576;
  std::string cgroups_path;  // "/tug/<name>": where runc puts the container's groups
};

struct OciUser {
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> additional_gids;
};

// Resolves a user as Docker does, or an error naming what was not found.
Result<OciUser> ResolveUser(const std::string& user, const std::string& passwd,
                            const std::string& group, std::optional<int64_t> run_as_user,
                            std::optional<int64_t> run_as_group);

// The process's argv, or an error if there is nothing to run.
Result<std::vector<std::string>> ContainerArgv(const OciContainer& c);

// The whole config.json, or an error a person can act on (CreateContainerError).
Result<nlohmann::json> BuildOciSpec(const OciContainer& c);

}  // namespace tug::agent
