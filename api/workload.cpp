#include "api/workload.h"

#include "api/validation.h"

#include <set>

namespace tug::api {

using nlohmann::json;

namespace {

void Required(const std::string& path, std::vector<std::string>* errors) {
  RequiredError(path, errors);
}

void Invalid(const std::string& path, const json& value, const std::string& why,
             std::vector<std::string>* errors) {
  InvalidError(path, value, why, errors);
}

std::string Str(const json& obj, const char* field) {
  return StringField(obj, field);
}

std::vector<std::string> StringList(const json& spec, const char* field, const std::string& path,
                                    std::vector<std::string>* errors) {
  std::vector<std::string> out;
  if (!spec.contains(field) || spec[field].is_null()) return out;
  if (!spec[field].is_array()) {
    Invalid(path + "." + field, spec[field], "must be a list of strings", errors);
    return out;
  }
  for (const auto& v : spec[field]) {
    if (v.is_string()) {
      out.push_back(v.get<std::string>());
    } else if (v.is_number() || v.is_boolean()) {
      out.push_back(v.dump());  // YAML `- 8080` in args means the text "8080"
    } else {
      Invalid(path + "." + field, v, "must be a string", errors);
    }
  }
  return out;
}

// Defaults inside a pod spec, as Kubernetes sets them.
void DefaultPodSpec(json& spec) {
  if (!spec.is_object()) return;
  if (!spec.contains("restartPolicy") || spec["restartPolicy"].is_null())
    spec["restartPolicy"] = "Always";
  if (!spec.contains("terminationGracePeriodSeconds")) spec["terminationGracePeriodSeconds"] = 30;
  if (spec.contains("containers") && spec["containers"].is_array()) {
    for (auto& c : spec["containers"]) {
      if (!c.is_object() || !c.contains("ports") || !c["ports"].is_array()) continue;
      for (auto& p : c["ports"]) {
        if (p.is_object() && !p.contains("protocol")) p["protocol"] = "TCP";
      }
    }
  }
}

}  // namespace

bool LabelsMatch(const json& match_labels, const json& labels) {
  if (!match_labels.is_object()) return true;
  for (const auto& [k, v] : match_labels.items()) {
    if (!labels.is_object() || !labels.contains(k) || labels[k] != v) return false;
  }
  return true;
}

// securityContext.runAsUser and runAsGroup of a pod or a container.
void ReadSecurityContext(const json& obj, const std::string& path, std::optional<int64_t>* user,
                         std::optional<int64_t>* group, std::vector<std::string>* errors) {
  if (!obj.contains("securityContext") || !obj["securityContext"].is_object()) return;
  const json& sc = obj["securityContext"];
  for (auto [field, out] : {std::pair{"runAsUser", user}, std::pair{"runAsGroup", group}}) {
    if (!sc.contains(field)) continue;
    const json& v = sc[field];
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 2147483647) {
      Invalid(path + ".securityContext." + field, v, "must be between 0 and 2147483647, inclusive",
              errors);
    } else {
      *out = v.get<int64_t>();
    }
  }
}

PodSpec ReadPodSpec(const json& spec, const std::string& path, std::vector<std::string>* errors) {
  PodSpec out;
  if (!spec.is_object()) {
    Required(path, errors);
    return out;
  }
  out.restart_policy = Str(spec, "restartPolicy").empty() ? "Always" : Str(spec, "restartPolicy");
  static const std::set<std::string> policies = {"Always", "OnFailure", "Never"};
  if (!policies.count(out.restart_policy)) {
    errors->push_back(path + ".restartPolicy: Unsupported value: \"" + out.restart_policy +
                      "\": supported values: \"Always\", \"OnFailure\", \"Never\"");
  }
  out.node_name = Str(spec, "nodeName");
  out.runtime_class_name = Str(spec, "runtimeClassName");
  if (!out.runtime_class_name.empty() && !IsDns1123Subdomain(out.runtime_class_name))
    Invalid(path + ".runtimeClassName", spec["runtimeClassName"],
            "must be a lowercase RFC 1123 subdomain", errors);
  if (spec.contains("hostNetwork")) {
    if (!spec["hostNetwork"].is_boolean())
      Invalid(path + ".hostNetwork", spec["hostNetwork"], "must be a boolean", errors);
    else
      out.host_network = spec["hostNetwork"].get<bool>();
  }
  ReadSecurityContext(spec, path, &out.run_as_user, &out.run_as_group, errors);
  std::set<std::string> volume_names;
  if (spec.contains("volumes") && spec["volumes"].is_array()) {
    for (size_t i = 0; i < spec["volumes"].size(); ++i) {
      const json& v = spec["volumes"][i];
      std::string vp = path + ".volumes[" + std::to_string(i) + "]";
      Volume vol;
      vol.name = Str(v, "name");
      if (vol.name.empty()) {
        Required(vp + ".name", errors);
        continue;
      }
      if (!IsDns1123Label(vol.name))
        Invalid(vp + ".name", v["name"], "must be a lowercase RFC 1123 label", errors);
      if (!volume_names.insert(vol.name).second)
        errors->push_back(vp + ".name: Duplicate value: \"" + vol.name + "\"");
      if (v.contains("hostPath") && v["hostPath"].is_object()) {
        vol.kind = Volume::Kind::kHostPath;
        vol.host_path = Str(v["hostPath"], "path");
        if (vol.host_path.empty() || vol.host_path[0] != '/')
          Invalid(vp + ".hostPath.path", v["hostPath"].value("path", json("")),
                  "must be an absolute path", errors);
      } else if (v.contains("emptyDir")) {
        vol.kind = Volume::Kind::kEmptyDir;
      } else {
        errors->push_back(vp +
                          ": Required value: must specify a volume type (emptyDir or hostPath)");
      }
      out.volumes.push_back(vol);
    }
  }
  if (spec.contains("nodeSelector") && !spec["nodeSelector"].is_null()) {
    CheckLabels(spec["nodeSelector"], path + ".nodeSelector", errors);
    if (spec["nodeSelector"].is_object()) {
      for (const auto& [k, v] : spec["nodeSelector"].items()) {
        if (v.is_string()) out.node_selector[k] = v.get<std::string>();
      }
    }
  }
  if (spec.contains("terminationGracePeriodSeconds")) {
    const json& g = spec["terminationGracePeriodSeconds"];
    if (!g.is_number_integer() || g.get<int64_t>() < 0) {
      Invalid(path + ".terminationGracePeriodSeconds", g, "must be a non-negative integer", errors);
    } else {
      out.termination_grace_period_seconds = g.get<int64_t>();
    }
  }
  if (!spec.contains("containers") || !spec["containers"].is_array() ||
      spec["containers"].empty()) {
    Required(path + ".containers", errors);
    return out;
  }
  std::set<std::string> names;
  for (size_t i = 0; i < spec["containers"].size(); ++i) {
    const json& c = spec["containers"][i];
    std::string cp = path + ".containers[" + std::to_string(i) + "]";
    if (!c.is_object()) {
      Invalid(cp, c, "must be an object", errors);
      continue;
    }
    Container k;
    k.name = Str(c, "name");
    if (k.name.empty()) {
      Required(cp + ".name", errors);
    } else if (!IsDns1123Label(k.name)) {
      Invalid(cp + ".name", c["name"], "must be a lowercase RFC 1123 label", errors);
    } else if (!names.insert(k.name).second) {
      errors->push_back(cp + ".name: Duplicate value: \"" + k.name + "\"");
    }
    k.image = Str(c, "image");
    k.image_pull_policy = Str(c, "imagePullPolicy");
    static const std::set<std::string> pull_policies = {"Always", "IfNotPresent", "Never"};
    if (!k.image_pull_policy.empty() && !pull_policies.count(k.image_pull_policy))
      errors->push_back(cp + ".imagePullPolicy: Unsupported value: \"" + k.image_pull_policy +
                        "\": supported values: \"Always\", \"IfNotPresent\", \"Never\"");
    k.working_dir = Str(c, "workingDir");
    ReadSecurityContext(c, cp, &k.run_as_user, &k.run_as_group, errors);
    if (c.contains("volumeMounts") && c["volumeMounts"].is_array()) {
      for (size_t m = 0; m < c["volumeMounts"].size(); ++m) {
        const json& vm = c["volumeMounts"][m];
        std::string mp = cp + ".volumeMounts[" + std::to_string(m) + "]";
        VolumeMount mount{Str(vm, "name"), Str(vm, "mountPath"),
                          vm.is_object() && vm.value("readOnly", false)};
        if (mount.name.empty()) {
          Required(mp + ".name", errors);
        } else if (!volume_names.count(mount.name)) {
          errors->push_back(mp + ".name: Not found: \"" + mount.name + "\"");
        }
        if (mount.mount_path.empty()) {
          Required(mp + ".mountPath", errors);
        } else if (mount.mount_path[0] != '/') {
          Invalid(mp + ".mountPath", vm["mountPath"], "must be an absolute path", errors);
        }
        k.volume_mounts.push_back(mount);
      }
    }
    k.command = StringList(c, "command", cp, errors);
    k.args = StringList(c, "args", cp, errors);
    if (k.image.empty() && k.command.empty()) {
      errors->push_back(cp + ".image: Required value: give an image, or a command to run");
    }
    if (c.contains("env") && c["env"].is_array()) {
      for (size_t e = 0; e < c["env"].size(); ++e) {
        const json& ev = c["env"][e];
        std::string ep = cp + ".env[" + std::to_string(e) + "]";
        if (Str(ev, "name").empty()) {
          Required(ep + ".name", errors);
          continue;
        }
        k.env.push_back({Str(ev, "name"), ev.contains("value") ? ShowValue(ev["value"]) : ""});
      }
    }
    if (c.contains("ports") && c["ports"].is_array()) {
      for (size_t p = 0; p < c["ports"].size(); ++p) {
        const json& pv = c["ports"][p];
        std::string pp = cp + ".ports[" + std::to_string(p) + "]";
        ContainerPort port;
        port.name = Str(pv, "name");
        if (!pv.is_object() || !pv.contains("containerPort") ||
            !pv["containerPort"].is_number_integer()) {
          Required(pp + ".containerPort", errors);
          continue;
        }
        port.container_port = pv["containerPort"].get<int>();
        if (port.container_port < 1 || port.container_port > 65535) {
          Invalid(pp + ".containerPort", pv["containerPort"],
                  "must be between 1 and 65535, inclusive", errors);
        }
        if (!Str(pv, "protocol").empty()) port.protocol = Str(pv, "protocol");
        if (pv.contains("hostPort") && pv["hostPort"].is_number_integer()) {
          port.host_port = pv["hostPort"].get<int>();
          if (port.host_port < 0 || port.host_port > 65535) {
            Invalid(pp + ".hostPort", pv["hostPort"], "must be between 0 and 65535, inclusive",
                    errors);
          }
        }
        k.ports.push_back(port);
      }
    }
    if (c.contains("resources") && c["resources"].is_object()) {
      const json& r = c["resources"];
      if (r.contains("requests") && r["requests"].is_object()) {
        if (r["requests"].contains("cpu")) {
          k.cpu_request =
              ReadQuantity(r["requests"]["cpu"], cp + ".resources.requests.cpu", errors);
        }
        if (r["requests"].contains("memory")) {
          k.memory_request =
              ReadQuantity(r["requests"]["memory"], cp + ".resources.requests.memory", errors);
        }
      }
      if (r.contains("limits") && r["limits"].is_object() && r["limits"].contains("cpu"))
        k.cpu_limit = ReadQuantity(r["limits"]["cpu"], cp + ".resources.limits.cpu", errors);
      if (r.contains("limits") && r["limits"].is_object() && r["limits"].contains("memory")) {
        k.memory_limit =
            ReadQuantity(r["limits"]["memory"], cp + ".resources.limits.memory", errors);
      }
    }
    if (c.contains("livenessProbe")) k.liveness_probe = c["livenessProbe"];
    if (c.contains("readinessProbe")) k.readiness_probe = c["readinessProbe"];
    out.containers.push_back(std::move(k));
  }
  return out;
}

bool IsShortForm(const json& obj) {
  return obj.is_object() && obj.contains("spec") && obj["spec"].is_object() &&
         obj["spec"].contains("image") && !obj["spec"].contains("template");
}

json ExpandShortForm(json obj) {
  if (!IsShortForm(obj)) return obj;
  json s = obj["spec"];
  std::string name = Str(s, "name");
  if (name.empty()) name = Str(obj.value("metadata", json::object()), "name");
  json full = {{"apiVersion", "apps/v1"},
               {"kind", "Deployment"},
               {"metadata", obj.value("metadata", json::object())}};
  if (!name.empty()) full["metadata"]["name"] = name;
  // As `kubectl create deployment` does: the Deployment carries its app label too.
  if (!full["metadata"].contains("labels") && !name.empty())
    full["metadata"]["labels"] = {{"app", name}};
  json container = {{"name", name.empty() ? "main" : name}, {"image", s["image"]}};
  json tmpl = {{"metadata", {{"labels", {{"app", name}}}}},
               {"spec", {{"containers", json::array({container})}}}};
  full["spec"] = {{"replicas", s.contains("replicas") ? s["replicas"] : json(1)},
                  {"template", tmpl}};
  return full;
}

Result<json> PrepareDeployment(json obj) {
  if (!obj.is_object()) return Status::Invalid("a Deployment must be an object");
  std::vector<std::string> errors;
  obj = ExpandShortForm(std::move(obj));
  CheckTypeMeta(obj, "apps/v1", "Deployment", &errors);
  PrepareMetadata(obj, /*namespaced=*/true, /*subdomain_names=*/false, &errors);
  std::string name = Str(obj["metadata"], "name");

  if (!obj.contains("spec") || !obj["spec"].is_object()) {
    Required("spec", &errors);
    return Verdict("Deployment.apps", name, errors);
  }
  json& spec = obj["spec"];
  if (!spec.contains("replicas") || spec["replicas"].is_null()) spec["replicas"] = 1;
  if (!spec["replicas"].is_number_integer()) {
    Invalid("spec.replicas", spec["replicas"], "must be an integer", &errors);
  } else if (spec["replicas"].get<int64_t>() < 0) {
    Invalid("spec.replicas", spec["replicas"], "must be greater than or equal to 0", &errors);
  } else if (spec["replicas"].get<int64_t>() > 2147483647) {
    Invalid("spec.replicas", spec["replicas"], "must be less than or equal to 2147483647", &errors);
  }
  if (!spec.contains("template") || !spec["template"].is_object()) {
    Required("spec.template", &errors);
    return Verdict("Deployment.apps", name, errors);
  }
  json& tmpl = spec["template"];
  if (!tmpl.contains("metadata") || !tmpl["metadata"].is_object())
    tmpl["metadata"] = json::object();
  json& tlabels = tmpl["metadata"]["labels"];
  if (tlabels.is_null()) tlabels = json::object();
  CheckLabels(tlabels, "spec.template.metadata.labels", &errors);
  // Every pod made from the template must pass as a Pod: check what pods copy from it.
  const json& tann =
      tmpl["metadata"].contains("annotations") ? tmpl["metadata"]["annotations"] : json();
  if (!tann.is_null()) {
    if (!tann.is_object()) {
      Invalid("spec.template.metadata.annotations", tann, "must be a map of strings", &errors);
    } else {
      for (const auto& [k, v] : tann.items()) {
        if (!v.is_string())
          Invalid("spec.template.metadata.annotations." + k, v, "must be a string", &errors);
      }
    }
  }
  // Kubernetes (extensions/v1beta1 and tug) default the selector from the template's labels.
  if (!spec.contains("selector") || spec["selector"].is_null())
    spec["selector"] = {{"matchLabels", tlabels}};
  json& sel = spec["selector"];
  if (!sel.is_object() || !sel.contains("matchLabels") || !sel["matchLabels"].is_object() ||
      sel["matchLabels"].empty()) {
    Required("spec.selector.matchLabels", &errors);
  } else if (!LabelsMatch(sel["matchLabels"], tlabels)) {
    Invalid("spec.template.metadata.labels", tlabels, "`selector` does not match template `labels`",
            &errors);
  }
  if (tmpl.contains("spec")) DefaultPodSpec(tmpl["spec"]);
  (void)ReadPodSpec(tmpl.value("spec", json()), "spec.template.spec", &errors);
  if (Status s = Verdict("Deployment.apps", name, errors); !s) return s;
  return obj;
}

Result<json> PreparePod(json obj) {
  if (!obj.is_object()) return Status::Invalid("a Pod must be an object");
  std::vector<std::string> errors;
  CheckTypeMeta(obj, "v1", "Pod", &errors);
  PrepareMetadata(obj, /*namespaced=*/true, /*subdomain_names=*/false, &errors);
  if (obj.contains("spec")) DefaultPodSpec(obj["spec"]);
  (void)ReadPodSpec(obj.value("spec", json()), "spec", &errors);
  if (Status s = Verdict("Pod", Str(obj["metadata"], "name"), errors); !s) return s;
  return obj;
}

}  // namespace tug::api
