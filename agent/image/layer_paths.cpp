#include "agent/image/layer_paths.h"

#include <vector>

namespace tug::agent::image {

namespace {

const std::string kWhiteoutPrefix = ".wh.";
const std::string kOpaqueMarker = ".wh..wh..opq";

}  // namespace

Result<std::string> CleanLayerPath(const std::string& name) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    std::string part = name.substr(start, end - start);
    if (part == "..") {
      if (parts.empty())
        return Status::Invalid("layer entry \"" + name + "\" points outside the image's root");
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      if (part.find('\0') != std::string::npos)
        return Status::Invalid("layer entry name contains a NUL byte");
      parts.push_back(part);
    }
    start = end + 1;
  }
  std::string out;
  for (const auto& p : parts)
    out += (out.empty() ? "" : "/") + p;
  return out;
}

Result<LayerPath> ClassifyLayerEntry(const std::string& name) {
  auto clean = CleanLayerPath(name);
  if (!clean.ok()) return clean.status();
  const std::string& path = clean.value();
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "" : path.substr(0, slash);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  LayerPath out;
  if (base == kOpaqueMarker) {
    out.kind = LayerPath::Kind::kOpaque;
    out.path = dir;
    return out;
  }
  if (base.rfind(kWhiteoutPrefix, 0) == 0) {
    std::string hidden = base.substr(kWhiteoutPrefix.size());
    if (hidden.empty() || hidden == "." || hidden == "..")
      return Status::Invalid("layer entry \"" + name + "\" is a whiteout of nothing");
    out.kind = LayerPath::Kind::kWhiteout;
    out.path = dir.empty() ? hidden : dir + "/" + hidden;
    return out;
  }
  if (path.empty()) out.kind = LayerPath::Kind::kRoot;
  out.path = path;
  return out;
}

}  // namespace tug::agent::image
