// A container's root file system from its image's unpacked layers: an overlayfs mount (the
// layers read-only below, the container's own writable layer above) where the kernel offers
// it, else a private copy of the layers stacked in order. Either way the image's layers are
// never written to, and everything lives under the container's bundle directory, so that
// releasing it leaves nothing behind.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace tug::agent {

enum class RootfsKind { kOverlay, kCopy };

// Makes `<bundle>/rootfs` from `layer_dirs` (bottom first). `allow_overlay` false forces the
// copy (tests; kernels whose overlayfs refuses the layers' file system).
Result<RootfsKind> PrepareRootfs(const std::vector<std::string>& layer_dirs,
                                 const std::string& bundle, bool allow_overlay = true);

// Unmounts `<bundle>/rootfs` if mounted and removes the bundle directory with everything in
// it. Safe to call twice, or on a bundle that was never prepared.
Status ReleaseRootfs(const std::string& bundle);

}  // namespace tug::agent
