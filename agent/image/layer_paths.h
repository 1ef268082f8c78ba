// What one entry of an image layer's tar means for the root filesystem being built, decided
// before anything touches the disk (the OCI image spec's "Applying Changesets"):
//
// - names are cleaned ("./a//b/" is "a/b"; a leading "/" is dropped, as tar does); a name
//   whose ".." would climb above the layer's root is refused: a hostile layer must never
//   write outside the directory it is unpacked into (symbolic links met on the way are the
//   unpacker's business: it resolves every path inside the root);
// - ".wh.<name>" is a whiteout: <name> in the same directory is removed (from lower layers);
// - ".wh..wh..opq" makes its directory opaque: what lower layers put in it is hidden;
// - a hard link's target is a path in the same root, cleaned and checked the same way;
// - "./" (which GNU tar and umoci write first) names the root itself: nothing to create.
#pragma once

#include <string>

#include "base/status.h"

namespace tug::agent::image {

struct LayerPath {
  enum class Kind { kEntry, kWhiteout, kOpaque, kRoot };
  Kind kind = Kind::kEntry;
  // kEntry: the path to create; kWhiteout: the path to remove; kOpaque: the directory.
  // Relative to the root, cleaned, never empty for kEntry/kWhiteout ("" is the root itself
  // for kOpaque and kRoot).
  std::string path;
};

// Cleans a tar entry name ("" for the root itself); an error if it escapes the root.
Result<std::string> CleanLayerPath(const std::string& name);

// What the entry named `name` asks for.
Result<LayerPath> ClassifyLayerEntry(const std::string& name);

}  // namespace tug::agent::image
