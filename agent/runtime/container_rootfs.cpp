#include "agent/runtime/container_rootfs.h"

#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "agent/image/layer_unpack.h"

namespace tug::agent {

namespace fs = std::filesystem;

namespace {

// overlayfs takes its options in one page.
constexpr size_t kMaxMountOptions = 4000;

}  // namespace

Result<RootfsKind> PrepareRootfs(const std::vector<std::string>& layer_dirs,
                                 const std::string& bundle, bool allow_overlay) {
  std::error_code ec;
  const std::string rootfs = bundle + "/rootfs";
  fs::create_directories(rootfs, ec);
  if (ec) return Status::Error("cannot create " + rootfs + ": " + ec.message());
  if (layer_dirs.empty()) return Status::Invalid("the image has no layers");
  if (allow_overlay) {
    fs::create_directories(bundle + "/upper", ec);
    fs::create_directories(bundle + "/work", ec);
    // overlayfs lists the top layer first.
    std::string lower;
    for (auto it = layer_dirs.rbegin(); it != layer_dirs.rend(); ++it)
      lower += (lower.empty() ? "" : ":") + *it;
    std::string options =
        "lowerdir=" + lower + ",upperdir=" + bundle + "/upper,workdir=" + bundle + "/work";
    if (options.size() <= kMaxMountOptions &&
        ::mount("overlay", rootfs.c_str(), "overlay", 0, options.c_str()) == 0)
      return RootfsKind::kOverlay;
    // Not available here (no overlayfs, a file system it cannot stack on, options too long
    // for many layers): the copy works everywhere.
    fs::remove_all(bundle + "/upper", ec);
    fs::remove_all(bundle + "/work", ec);
  }
  for (const auto& layer : layer_dirs)
    if (auto s = image::ApplyLayerDir(layer, rootfs); !s.ok())
      return Status::Error("cannot copy the image's layer " + layer + ": " + s.message());
  return RootfsKind::kCopy;
}

Status ReleaseRootfs(const std::string& bundle) {
  if (bundle.empty() || bundle == "/") return Status::Invalid("no bundle to release");
  const std::string rootfs = bundle + "/rootfs";
  // Detach: a process that still holds a file in it (a late exec probe) does not keep the
  // mount alive in our namespace.
  if (::umount2(rootfs.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    return Status::Error("cannot unmount " + rootfs + ": " + std::strerror(errno));
  std::error_code ec;
  fs::remove_all(bundle, ec);
  if (ec) return Status::Error("cannot remove " + bundle + ": " + ec.message());
  return Status::Ok();
}

}  // namespace tug::agent
