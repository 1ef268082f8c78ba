// Unpacks one image layer (a tar, gzip-compressed or not) into a directory of its own, in the
// form overlayfs stacks: a whiteout becomes a character device 0/0 and an opaque directory
// carries the xattr `trusted.overlay.opaque=y`, exactly as containerd's overlay snapshotter
// lays layers out. ApplyLayerDir reads that same form back to build a root by copying where
// overlayfs is not available.
//
// The layer is hostile until proven otherwise:
//   - every name is cleaned and checked (layer_paths.h), so "../" never leaves the directory;
//   - every path is resolved inside the directory (openat2 RESOLVE_IN_ROOT), so a symbolic
//     link the layer made (`etc -> /etc`, `x -> ../../..`) is followed as the container
//     would follow it, within its root, and never to the host's files;
//   - the final component is created with *at calls that do not follow links;
//   - device nodes are skipped (a container gets its devices from the runtime), sockets too;
//   - hard links may only point at entries inside the same directory.
// The uncompressed stream is hashed as it is read and must match `diff_id` (the image
// config's rootfs.diff_ids); a mismatch is an error naming both digests, and the caller
// throws the directory away.
//
// Needs root for ownership, the whiteout devices and the trusted.* xattr.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace tug::agent::image {

struct UnpackStats {
  int64_t entries = 0;
  int64_t bytes = 0;    // uncompressed tar bytes
  int64_t skipped = 0;  // device nodes and sockets
};

// Unpacks the layer blob at `blob_path` into `dir` (which exists and is empty).
Result<UnpackStats> UnpackLayer(const std::string& blob_path, bool gzip, const std::string& diff_id,
                                const std::string& dir);

// Applies an unpacked layer directory (in the overlay form above) onto `root`: files are
// copied (hard links within the layer kept), whiteouts remove, opaque directories are
// emptied first. Used when overlayfs cannot be mounted.
Status ApplyLayerDir(const std::string& layer_dir, const std::string& root);

}  // namespace tug::agent::image
