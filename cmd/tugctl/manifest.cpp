#include "cmd/tugctl/manifest.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <istream>
#include <sstream>

#include "api/document.h"
#include "api/json_access.h"
#include "api/workload.h"
#include "cmd/tugctl/selection.h"

namespace tug::ctl {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

bool ManifestFile(const fs::path& p) {
  std::string ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

Status Expand(const std::string& path, bool recursive, std::vector<std::string>* files) {
  if (path == "-") {
    files->push_back(path);
    return Status::Ok();
  }
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (ec || !fs::exists(st)) return Status::Invalid("the path \"" + path + "\" does not exist");
  if (!fs::is_directory(st)) {
    files->push_back(path);
    return Status::Ok();
  }
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(path, ec))
    entries.push_back(e.path());
  if (ec) return Status::Invalid("cannot list directory " + path + ": " + ec.message());
  std::sort(entries.begin(), entries.end());
  for (const auto& e : entries) {
    if (fs::is_directory(e)) {
      if (recursive) {
        Status s = Expand(e.string(), recursive, files);
        if (!s.ok()) return s;
      }
    } else if (ManifestFile(e)) {
      files->push_back(e.string());
    }
  }
  return Status::Ok();
}

std::string KnownKinds() {
  std::string out;
  for (const auto& r : api::Resources())
    out += (out.empty() ? "" : ", ") + r.kind + " (" + r.api_version() + ")";
  return out;
}

}  // namespace

Result<std::vector<ManifestObject>> ReadManifests(const std::vector<std::string>& paths,
                                                  bool recursive, const std::string& ns,
                                                  bool ns_explicit, std::istream& in) {
  if (paths.empty()) return Status::Invalid("give the objects with -f FILE, -f DIR or -f -");
  std::vector<std::string> files;
  for (const auto& p : paths) {
    Status s = Expand(p, recursive, &files);
    if (!s.ok()) return s;
  }
  std::vector<ManifestObject> out;
  for (const auto& file : files) {
    std::string text, source = file == "-" ? "stdin" : file;
    {
      std::stringstream ss;
      if (file == "-") {
        ss << in.rdbuf();
      } else {
        std::ifstream f(file);
        if (!f) return Status::Invalid("cannot read " + file);
        ss << f.rdbuf();
      }
      text = ss.str();
    }
    auto parsed = api::ParseDocuments(text, source);
    if (!parsed.ok()) return parsed.status();
    // A "kind: List" (what `get -o yaml` prints for several objects) stands for its items.
    std::vector<std::pair<json, std::string>> docs;
    size_t n = 0;
    for (auto& doc : parsed.value()) {
      ++n;
      std::string where =
          parsed.value().size() > 1 ? source + " (document " + std::to_string(n) + ")" : source;
      if (doc.is_object() && doc.value("kind", json()) == "List" && doc.contains("items") &&
          doc["items"].is_array()) {
        size_t i = 0;
        for (auto& item : doc["items"])
          docs.emplace_back(std::move(item), where + " items[" + std::to_string(i++) + "]");
      } else {
        docs.emplace_back(std::move(doc), where);
      }
    }
    for (auto& [doc, where] : docs) {
      ManifestObject m;
      m.source = where;
      if (!doc.is_object()) return Status::Invalid(m.source + ": expected an object (a mapping)");
      if (!doc.contains("kind") && api::IsShortForm(doc)) doc = api::ExpandShortForm(doc);
      std::string api_version = api::AtString(doc, {"apiVersion"});
      std::string kind = api::AtString(doc, {"kind"});
      if (api_version.empty() || kind.empty()) {
        std::string missing = api_version.empty() && kind.empty() ? "apiVersion and kind are"
                              : api_version.empty()               ? "apiVersion is"
                                                                  : "kind is";
        return Status::Invalid(m.source + ": " + missing + " not set");
      }
      m.resource = api::ResourceForKind(api_version, kind);
      if (!m.resource) {
        return Status::Invalid(m.source + ": no kind \"" + kind + "\" in version \"" + api_version +
                               "\" (Tug serves " + KnownKinds() + ")");
      }
      if (doc.contains("metadata") && !doc["metadata"].is_object())
        return Status::Invalid(m.source + ": metadata must be a mapping");
      const json& meta = doc.value("metadata", json::object());
      for (const char* f : {"labels", "annotations"})
        if (meta.contains(f) && !meta[f].is_object() && !meta[f].is_null())
          return Status::Invalid(m.source + ": metadata." + f + " must be a mapping");
      if (!meta.contains("name") || !meta["name"].is_string() ||
          meta["name"].get<std::string>().empty()) {
        return Status::Invalid(m.source + ": metadata.name is required");
      }
      m.name = meta["name"].get<std::string>();
      if (Status s = CheckName(m.name); !s.ok())
        return Status::Invalid(m.source + ": metadata.name: " + s.message());
      if (m.resource->namespaced) {
        std::string own = meta.contains("namespace") && meta["namespace"].is_string()
                              ? meta["namespace"].get<std::string>()
                              : "";
        if (!own.empty()) {
          if (Status s = CheckName(own); !s.ok())
            return Status::Invalid(m.source + ": metadata.namespace: " + s.message());
        }
        if (!own.empty() && ns_explicit && own != ns) {
          return Status::Invalid(m.source + ": the namespace from the provided object \"" + own +
                                 "\" does not match the namespace \"" + ns +
                                 "\"; pass --namespace=" + own + " to use it");
        }
        m.ns = own.empty() ? ns : own;
        doc["metadata"]["namespace"] = m.ns;
      }
      m.object = std::move(doc);
      out.push_back(std::move(m));
    }
  }
  if (out.empty())
    return Status::Invalid("no objects in " + paths[0] + (paths.size() > 1 ? " ..." : ""));
  return out;
}

}  // namespace tug::ctl
