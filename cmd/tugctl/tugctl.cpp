// The command line: global flags, the verbs, and how parse errors and help are shown.
#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

#include "cmd/tugctl/verbs.h"

namespace tug::ctl {

int RunTugctl(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  Ctl ctl(out, err);
  CLI::App app(
      "tugctl controls a Tug cluster: apply manifests, see what runs where, scale, read "
      "logs, follow rollouts.",
      "tugctl");
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("--server", ctl.flags.server,
                 "API servers, comma-separated URLs (else $TUG_SERVER, the config file, "
                 "http://127.0.0.1:7101)");
  app.add_option("--token-file", ctl.flags.token_file,
                 "File holding the cluster's bearer token (else $TUG_TOKEN, the config file)");
  app.add_option("--config", ctl.flags.config, "Config file (else $TUG_CONFIG, ~/.tug/config)");
  app.add_option("-n,--namespace", ctl.flags.ns, "Namespace (else the config file's, default)");
  app.add_option("--request-timeout", ctl.flags.request_timeout,
                 "Give up on a request after this long (e.g. 10s; 0: 30s, and watches and "
                 "followed logs never end)");
  app.footer(R"(Examples:
  tugctl apply -f manifests/web-server.yaml
  tugctl get pods -o wide
  tugctl rollout status deployment web-server
  tugctl logs -f deployment/web-server
  tugctl cluster status
  tugctl config kubeconfig > tug.kubeconfig    # then: KUBECONFIG=tug.kubeconfig kubectl get pods

The config file (~/.tug/config, YAML):
  server: http://127.0.0.1:7101,http://127.0.0.1:7102,http://127.0.0.1:7103
  token-file: /path/to/token
  namespace: default

Run 'tugctl VERB --help' for a verb's flags and examples.)");
  AddApply(app, ctl);
  AddGet(app, ctl);
  AddDescribe(app, ctl);
  AddDelete(app, ctl);
  AddScale(app, ctl);
  AddLogs(app, ctl);
  AddRollout(app, ctl);
  AddCluster(app, ctl);
  AddConfig(app, ctl);
  AddVersion(app, ctl);
  // kubectl (pflag) reads "-o=wide" as "-o wide"; CLI11 would keep the "=".
  std::vector<std::string> args;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    bool past_options = std::find(args.begin(), args.end(), "--") != args.end();
    if (!past_options && i > 0 && a.size() >= 3 && a[0] == '-' && a[1] != '-' && a[2] == '=') {
      args.push_back(a.substr(0, 2));
      args.push_back(a.substr(3));
    } else {
      args.push_back(a);
    }
  }
  std::vector<const char*> argp;
  for (const auto& a : args)
    argp.push_back(a.c_str());
  // A mistyped verb gets kubectl's message rather than CLI11's "a subcommand is required".
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    // A global option that takes a value (--server URL, -n NS): its value is not a verb.
    bool takes_value = false;
    for (const CLI::Option* opt : app.get_options())
      takes_value = takes_value || (opt->check_name(a) && opt->get_type_size() != 0);
    if (takes_value) {
      ++i;
      continue;
    }
    if (a.empty() || a[0] == '-') continue;
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
      known = known || sub->check_name(a);
    if (!known) {
      err << "error: unknown command \"" << a << "\" for \"tugctl\" (see 'tugctl --help')\n";
      return 1;
    }
    break;
  }
  try {
    app.parse(static_cast<int>(argp.size()), argp.data());
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::ParseError& e) {
    std::string verb;
    for (const CLI::App* sub = &app; !sub->get_subcommands().empty();) {
      sub = sub->get_subcommands().back();
      verb += " " + sub->get_name();
    }
    std::string what = e.what();
    if (what.empty()) what = "invalid command line";
    err << "error: " << what << " (see 'tugctl" << verb << " --help')\n";
    return 1;
  } catch (const std::exception& e) {
    err << "error: " << e.what() << "\n";
    return 1;
  }
  return ctl.exit_code;
}

}  // namespace tug::ctl
