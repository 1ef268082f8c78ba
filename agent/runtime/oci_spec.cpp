#include "agent/runtime/oci_spec.h"

#include <algorithm>
#include <map>
#include <sstream>

namespace tug::agent {

using json = nlohmann::json;

namespace {

constexpr const char* kPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr int64_t kCfsPeriodUs = 100000;  // the kubelet's 100 ms

// Docker's default set (moby's oci/caps/defaults.go), which containerd's CRI also uses.
const std::vector<std::string>& DefaultCapabilities() {
  static const std::vector<std::string> caps = {
      "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
      "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
      "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
      "CAP_KILL",    "CAP_AUDIT_WRITE"};
  return caps;
}

bool AllDigits(const std::string& s) {
  return !s.empty() && s.size() <= 10 && std::all_of(s.begin(), s.end(), ::isdigit);
}

// Lines of /etc/passwd or /etc/group split at ':'.
std::vector<std::vector<std::string>> Records(const std::string& text) {
  std::vector<std::vector<std::string>> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    size_t start = 0;
    for (;;) {
      size_t colon = line.find(':', start);
      f.push_back(
          line.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
    out.push_back(f);
  }
  return out;
}

}  // namespace

Result<OciUser> ResolveUser(const std::string& user, const std::string& passwd,
                            const std::string& group, std::optional<int64_t> run_as_user,
                            std::optional<int64_t> run_as_group) {
  OciUser u;
  std::string who = user, grp;
  if (auto colon = user.find(':'); colon != std::string::npos) {
    who = user.substr(0, colon);
    grp = user.substr(colon + 1);
  }
  if (run_as_user) who = std::to_string(*run_as_user);
  auto users = Records(passwd);
  auto groups = Records(group);
  std::string name;
  bool gid_from_passwd = false;
  if (who.empty()) {
    u.uid = 0;
  } else if (AllDigits(who)) {
    u.uid = static_cast<uint32_t>(std::stoul(who));
  } else {
    bool found = false;
    for (const auto& r : users) {
      if (r.size() >= 4 && r[0] == who && AllDigits(r[2])) {
        u.uid = static_cast<uint32_t>(std::stoul(r[2]));
        found = true;
        break;
      }
    }
    if (!found)
      return Status::Invalid("unable to find user " + who + ": no matching entries in passwd file");
  }
  // The user's name and primary group, where the image's passwd has them.
  for (const auto& r : users) {
    if (r.size() >= 4 && AllDigits(r[2]) && std::stoul(r[2]) == u.uid) {
      name = r[0];
      if (AllDigits(r[3])) {
        u.gid = static_cast<uint32_t>(std::stoul(r[3]));
        gid_from_passwd = true;
      }
      break;
    }
  }
  if (!gid_from_passwd) u.gid = 0;
  if (run_as_group) {
    u.gid = static_cast<uint32_t>(*run_as_group);
  } else if (!grp.empty()) {
    if (AllDigits(grp)) {
      u.gid = static_cast<uint32_t>(std::stoul(grp));
    } else {
      bool found = false;
      for (const auto& r : groups) {
        if (r.size() >= 3 && r[0] == grp && AllDigits(r[2])) {
          u.gid = static_cast<uint32_t>(std::stoul(r[2]));
          found = true;
          break;
        }
      }
      if (!found)
        return Status::Invalid("unable to find group " + grp +
                               ": no matching entries in group file");
    }
  }
  if (!name.empty()) {
    for (const auto& r : groups) {
      if (r.size() < 4 || !AllDigits(r[2])) continue;
      std::istringstream members(r[3]);
      std::string m;
      while (std::getline(members, m, ','))
        if (m == name) {
          auto g = static_cast<uint32_t>(std::stoul(r[2]));
          if (g != u.gid && std::find(u.additional_gids.begin(), u.additional_gids.end(), g) ==
                                u.additional_gids.end())
            u.additional_gids.push_back(g);
        }
    }
  }
  return u;
}

Result<std::vector<std::string>> ContainerArgv(const OciContainer& c) {
  std::vector<std::string> argv;
  if (!c.command.empty()) {
    argv = c.command;
    argv.insert(argv.end(), c.args.begin(), c.args.end());
  } else {
    argv = c.image_entrypoint;
    const auto& rest = c.args.empty() ? c.image_cmd : c.args;
    argv.insert(argv.end(), rest.begin(), rest.end());
  }
  if (argv.empty())
    return Status::Invalid(
        "no command specified: the image has no Entrypoint or Cmd, and the container gives no "
        "command");
  return argv;
}

Result<json> BuildOciSpec(const OciContainer& c) {
  auto argv = ContainerArgv(c);
  if (!argv.ok()) return argv.status();
  auto user = ResolveUser(c.image_user, c.passwd, c.group, c.run_as_user, c.run_as_group);
  if (!user.ok()) return user.status();

  // The image's environment, then the pod's: a name both set keeps the image's position.
  std::vector<std::string> env;
  std::map<std::string, size_t> at;
  auto put = [&](const std::string& kv) {
    std::string name = kv.substr(0, kv.find('='));
    if (auto it = at.find(name); it != at.end()) {
      env[it->second] = kv;
    } else {
      at[name] = env.size();
      env.push_back(kv);
    }
  };
  for (const auto& e : c.image_env)
    put(e);
  if (!at.count("PATH")) put(std::string("PATH=") + kPath);
  put("HOSTNAME=" + c.hostname);
  for (const auto& e : c.env)
    put(e);

  std::string cwd = !c.working_dir.empty()         ? c.working_dir
                    : !c.image_working_dir.empty() ? c.image_working_dir
                                                   : "/";
  if (cwd[0] != '/')
    return Status::Invalid("the working directory \"" + cwd + "\" is not an absolute path");

  json caps = DefaultCapabilities();
  json process = {
      {"terminal", false},
      {"user", {{"uid", user->uid}, {"gid", user->gid}}},
      {"args", *argv},
      {"env", env},
      {"cwd", cwd},
      {"capabilities",
       {{"bounding", caps}, {"effective", caps}, {"permitted", caps}, {"inheritable", caps}}},
      {"rlimits",
       json::array(
           {{{"type", "RLIMIT_NOFILE"}, {"hard", c.nofile_limit}, {"soft", c.nofile_limit}}})},
      {"noNewPrivileges", true}};
  if (!user->additional_gids.empty()) process["user"]["additionalGids"] = user->additional_gids;
  // A non-root user keeps no capabilities in effect, as with Docker.
  if (user->uid != 0) {
    process["capabilities"]["effective"] = json::array();
    process["capabilities"]["permitted"] = json::array();
    process["capabilities"]["inheritable"] = json::array();
  }

  json mounts = json::array({
      {{"destination", "/proc"},
       {"type", "proc"},
       {"source", "proc"},
       {"options", {"nosuid", "noexec", "nodev"}}},
      {{"destination", "/dev"},
       {"type", "tmpfs"},
       {"source", "tmpfs"},
       {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
      {{"destination", "/dev/pts"},
       {"type", "devpts"},
       {"source", "devpts"},
       {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}}},
      {{"destination", "/dev/shm"},
       {"type", "tmpfs"},
       {"source", "shm"},
       {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
      {{"destination", "/dev/mqueue"},
       {"type", "mqueue"},
       {"source", "mqueue"},
       {"options", {"nosuid", "noexec", "nodev"}}},
      {{"destination", "/sys"},
       {"type", "sysfs"},
       {"source", "sysfs"},
       {"options", {"nosuid", "noexec", "nodev", "ro"}}},
      {{"destination", "/sys/fs/cgroup"},
       {"type", "cgroup"},
       {"source", "cgroup"},
       {"options", {"nosuid", "noexec", "nodev", "relatime", "ro"}}},
  });
  for (const auto& m : c.mounts) {
    if (m.destination.empty() || m.destination[0] != '/')
      return Status::Invalid("the mount path \"" + m.destination + "\" is not absolute");
    json options = {"rbind", "rprivate"};
    options.push_back(m.read_only ? "ro" : "rw");
    mounts.push_back({{"destination", m.destination},
                      {"type", "bind"},
                      {"source", m.source},
                      {"options", options}});
  }

  json namespaces =
      json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}});
  if (!c.host_network) {
    json net = {{"type", "network"}};
    if (!c.netns_path.empty()) net["path"] = c.netns_path;
    namespaces.push_back(net);
  }

  json resources = {{"devices", json::array({{{"allow", false}, {"access", "rwm"}}})}};
  if (c.memory_limit_bytes > 0) resources["memory"] = {{"limit", c.memory_limit_bytes}};
  if (c.cpu_limit_millis > 0 || c.cpu_request_millis > 0) {
    json cpu = json::object();
    if (c.cpu_request_millis > 0)
      cpu["shares"] = std::max<int64_t>(2, c.cpu_request_millis * 1024 / 1000);
    if (c.cpu_limit_millis > 0) {
      // At least 1 ms of quota per period, the kernel's minimum.
      cpu["quota"] = std::max<int64_t>(1000, c.cpu_limit_millis * kCfsPeriodUs / 1000);
      cpu["period"] = kCfsPeriodUs;
    }
    resources["cpu"] = cpu;
  }
  if (c.pids_limit > 0) resources["pids"] = {{"limit", c.pids_limit}};

  json linux_section = {
      {"resources", resources},
      {"namespaces", namespaces},
      {"maskedPaths",
       {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
        "/proc/scsi"}},
      {"readonlyPaths",
       {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}}};
  if (!c.cgroups_path.empty()) linux_section["cgroupsPath"] = c.cgroups_path;

  return json{{"ociVersion", "1.0.2-dev"}, {"root", {{"path", c.rootfs}, {"readonly", false}}},
              {"hostname", c.hostname},    {"process", process},
              {"mounts", mounts},          {"linux", linux_section}};
}

}  // namespace tug::agent
