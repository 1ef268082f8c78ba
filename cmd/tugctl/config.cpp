// tugctl config kubeconfig: a kubeconfig for this cluster, so that kubectl can be used next to
// tugctl. kubectl sends a bearer token only over HTTPS, so the kubeconfig names the member's
// HTTPS endpoint (tugd --tls-addr), which the member reports in /cluster/status together with
// the certificate to trust.
#include <fstream>
#include <memory>
#include <ostream>
#include <sstream>

#include "api/document.h"
#include "api/json_access.h"
#include "base/base64.h"
#include "cmd/tugctl/kubeconfig.h"
#include "cmd/tugctl/verbs.h"

namespace tug::ctl {

using json = nlohmann::json;

json Kubeconfig(const KubeconfigParams& p) {
  json cluster = {{"server", p.server}};
  if (p.insecure) {
    cluster["insecure-skip-tls-verify"] = true;
  } else {
    cluster["certificate-authority-data"] = Base64Encode(p.ca_pem);
  }
  return {
      {"apiVersion", "v1"},
      {"kind", "Config"},
      {"preferences", json::object()},
      {"clusters", json::array({{{"name", p.name}, {"cluster", cluster}}})},
      {"users", json::array({{{"name", p.name}, {"user", {{"token", p.token}}}}})},
      {"contexts",
       json::array({{{"name", p.name},
                     {"context", {{"cluster", p.name}, {"user", p.name}, {"namespace", p.ns}}}}})},
      {"current-context", p.name}};
}

namespace {

struct KubeconfigOptions {
  std::string name = "tug";
  std::string server;
  std::string ca_file;
  bool insecure = false;
};

int RunKubeconfig(Ctl& ctl, const KubeconfigOptions& o) {
  if (!o.server.empty() && o.server.rfind("https://", 0) != 0)
    return ctl.Fail("--https-server \"" + o.server +
                    "\" must start with https://: kubectl sends the token only over HTTPS");
  if (o.insecure && !o.ca_file.empty())
    return ctl.Fail("--certificate-authority and --insecure-skip-tls-verify exclude each other");
  if (Status s = ctl.Connect(); !s.ok()) return ctl.Fail(s.message());
  if (ctl.target().token.empty())
    return ctl.Fail(
        "no token to put in the kubeconfig: give --token-file, $TUG_TOKEN or the "
        "config file's token-file");
  KubeconfigParams p;
  p.name = o.name;
  p.token = ctl.target().token;
  p.ns = ctl.ns();
  p.insecure = o.insecure;
  p.server = o.server;
  if (!o.ca_file.empty()) {
    std::ifstream in(o.ca_file);
    if (!in) return ctl.Fail("cannot read --certificate-authority " + o.ca_file);
    std::stringstream ss;
    ss << in.rdbuf();
    p.ca_pem = ss.str();
  }
  if (p.server.empty() || (p.ca_pem.empty() && !p.insecure)) {
    // Ask the member where it serves HTTPS and what to trust; this also checks the token.
    auto status = ctl.GetJson("/cluster/status");
    if (!status.ok()) return ctl.Fail(status.status().message());
    std::string url = api::AtString(status.value(), {"https", "url"});
    if (url.empty())
      return ctl.Fail("member " + api::AtString(status.value(), {"self"}, "?") +
                      " serves no HTTPS, which kubectl needs to send its token: start tugd "
                      "with --tls-addr, --tls-cert and --tls-key (scripts/local-cluster.sh does)");
    if (p.server.empty()) p.server = url;
    if (p.ca_pem.empty() && !p.insecure)
      p.ca_pem = api::AtString(status.value(), {"https", "certificateAuthority"});
  }
  ctl.out << api::ToYaml(Kubeconfig(p)) << std::flush;
  return 0;
}

}  // namespace

void AddConfig(CLI::App& app, Ctl& ctl) {
  auto* config = app.add_subcommand("config", "Settings for other clients of this cluster");
  config->require_subcommand(1);
  auto o = std::make_shared<KubeconfigOptions>();
  auto* cmd = config->add_subcommand("kubeconfig",
                                     "Print a kubeconfig with which kubectl reaches this cluster");
  cmd->add_option("--name", o->name, "Name of the cluster, user and context")->default_val("tug");
  cmd->add_option("--https-server", o->server,
                  "The HTTPS URL kubectl uses (default: the one the member reports)");
  cmd->add_option("--certificate-authority", o->ca_file,
                  "PEM file of the certificate to trust (default: the one the member reports)");
  cmd->add_flag("--insecure-skip-tls-verify", o->insecure,
                "Do not check the server's certificate (tests only)");
  cmd->footer(R"(The member tugctl talks to reports its HTTPS endpoint (tugd --tls-addr) and the
certificate to trust. The kubeconfig holds the token and the namespace tugctl uses.

Examples:
  tugctl config kubeconfig > tug.kubeconfig
  KUBECONFIG=tug.kubeconfig kubectl get pods -o wide)");
  cmd->callback([&ctl, o] { ctl.exit_code = RunKubeconfig(ctl, *o); });
}

}  // namespace tug::ctl
