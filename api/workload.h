// Deployments and Pods: the typed view of the fields Tug acts on, Kubernetes' defaults, and
// validation with Kubernetes-style messages. Objects travel as JSON values so that every
// field Tug does not know (and every annotation) survives a round trip untouched; the typed
// structs are read from them when a part of the system needs to act.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/quantity.h"
#include "api/validation.h"
#include "base/status.h"

namespace tug::api {

struct ContainerPort {
  std::string name;
  int container_port = 0;
  int host_port = 0;  // 0: the agent picks a free one
  std::string protocol = "TCP";
};

struct EnvVar {
  std::string name;
  std::string value;
};

struct VolumeMount {
  std::string name;
  std::string mount_path;
  bool read_only = false;
};

struct Volume {
  std::string name;
  enum class Kind { kEmptyDir, kHostPath } kind = Kind::kEmptyDir;
  std::string host_path;  // kHostPath
};

struct Container {
  std::string name;
  std::string image;
  std::string image_pull_policy;  // as written: "" means Kubernetes' default for the tag
  std::string working_dir;
  std::vector<std::string> command;
  std::vector<std::string> args;
  std::vector<EnvVar> env;
  std::vector<ContainerPort> ports;
  Quantity cpu_request;     // zero when not requested
  Quantity memory_request;  // bytes, in milli-units
  Quantity memory_limit;
  Quantity cpu_limit;
  std::optional<int64_t> run_as_user, run_as_group;  // securityContext
  std::vector<VolumeMount> volume_mounts;
  nlohmann::json liveness_probe;   // null when absent
  nlohmann::json readiness_probe;  // null when absent
};

struct PodSpec {
  std::vector<Container> containers;
  std::string restart_policy = "Always";
  std::map<std::string, std::string> node_selector;
  std::string node_name;
  int64_t termination_grace_period_seconds = 30;
  std::string runtime_class_name;  // "process": run the containers' commands on the host
  bool host_network = false;
  std::optional<int64_t> run_as_user, run_as_group;  // the pod's securityContext
  std::vector<Volume> volumes;
};

// Reads the typed view of a pod spec (a Pod's `spec` or a template's `spec`). Problems are
// appended to `errors` as "<path>.<field>: <what>"; the result holds what could be read.
PodSpec ReadPodSpec(const nlohmann::json& spec, const std::string& path,
                    std::vector<std::string>* errors);

// Takes a Deployment as a user wrote it (full apps/v1 form or the short form
// `spec: {name, replicas, image}`), applies Kubernetes' defaults (namespace "default",
// replicas 1, selector from the template's labels, restartPolicy Always, ...) and validates
// it. Errors are Status::Invalid in Kubernetes' words:
//   Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: must be greater
//   than or equal to 0
Result<nlohmann::json> PrepareDeployment(nlohmann::json obj);

// Whether `obj` is the seed's short form of a Deployment (`spec: {name, replicas, image}`,
// no template), and its full apps/v1 form (one container named after the Deployment, the
// label app=<name>); other objects come back as they are.
bool IsShortForm(const nlohmann::json& obj);
nlohmann::json ExpandShortForm(nlohmann::json obj);

// The same for a Pod.
Result<nlohmann::json> PreparePod(nlohmann::json obj);

// Whether `labels` (a JSON object of strings) satisfy `match_labels`.
bool LabelsMatch(const nlohmann::json& match_labels, const nlohmann::json& labels);

}  // namespace tug::api
