// A kubeconfig for kubectl (and anything else built on client-go) that reaches a Tug cluster:
// one cluster, one user with the bearer token, one context, made current.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace tug::ctl {

struct KubeconfigParams {
  std::string name = "tug";  // the cluster's, the user's and the context's name
  std::string server;        // https://host:port
  std::string ca_pem;        // the certificate to trust for `server` (PEM); "" with insecure
  bool insecure = false;     // insecure-skip-tls-verify instead of a CA
  std::string token;
  std::string ns = "default";
};

// The kubeconfig as JSON (print it with api::ToYaml).
nlohmann::json Kubeconfig(const KubeconfigParams& p);

}  // namespace tug::ctl
