// Reading what `apply -f`, `delete -f` take: files, directories and stdin holding YAML or
// JSON documents, each resolved to a kind Tug serves. Nothing comes back unless every
// document is usable, so a mistake anywhere changes nothing on the cluster.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/resource.h"
#include "base/status.h"

namespace tug::ctl {

struct ManifestObject {
  const api::ResourceInfo* resource = nullptr;
  nlohmann::json object;  // as written; the seed's short form expanded to a Deployment
  std::string source;     // "web.yaml" or "web.yaml (document 2)"
  std::string name;
  std::string ns;  // "" for cluster-scoped kinds
};

// `paths`: files, directories (their .yaml, .yml and .json files in name order; with
// `recursive` also those of subdirectories) and "-" for `in`. Objects without a namespace
// get `ns`; one whose namespace differs from an `ns` the user gave explicitly is an error,
// as in kubectl. Errors name the file (and line and column for a syntax error).
Result<std::vector<ManifestObject>> ReadManifests(const std::vector<std::string>& paths,
                                                  bool recursive, const std::string& ns,
                                                  bool ns_explicit, std::istream& in);

}  // namespace tug::ctl
