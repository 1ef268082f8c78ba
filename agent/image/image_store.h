// The agent's images: pulled from registries into the content store, their layers unpacked
// once each (shared by every image that has them), and a record per image name, all under
// `<data-dir>/images/`:
//
//   blobs/sha256/<hex>         manifests, configs, compressed layers (content_store.h)
//   layers/sha256/<hex>/       a layer unpacked, by its diff_id (layer_unpack.h)
//   refs/<hex>.json            an image name -> its manifest, config and layers, last use
//
// A pull (the OCI distribution API, registry_client.h): the manifest by tag or digest; an
// index resolved to linux/amd64; the config; every layer not yet present, streamed into the
// content store and verified against its digest; each layer unpacked into a temporary
// directory, checked against the config's diff_id, and renamed into place; the record
// written last. So a failure at any step leaves nothing a container could use, and the next
// pull starts over with whatever whole pieces are already there.
//
// Thread-safe. Two pulls of the same name at once are one pull (the second waits for the
// first's result); two images that share a layer download and unpack it once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "agent/image/content_store.h"
#include "agent/image/manifest.h"
#include "agent/image/reference.h"
#include "agent/image/registry_config.h"
#include "agent/image/registry_transport.h"
#include "base/status.h"

namespace tug::agent::image {

// Kubernetes' imagePullPolicy.
enum class PullPolicy { kAlways, kIfNotPresent, kNever };

// Kubernetes' default: Always for ":latest" or no tag (and no digest), IfNotPresent otherwise.
PullPolicy DefaultPullPolicy(const std::string& image);
// "Always", "IfNotPresent", "Never"; "" is the default for `image`; anything else an error
// quoting the allowed values.
Result<PullPolicy> ParsePullPolicy(const std::string& text, const std::string& image);

struct Image {
  std::string name;           // the reference fully qualified: docker.io/library/busybox:1
  std::string digest;         // the manifest's digest (the platform's, under an index)
  std::string config_digest;  // the image ID, as `docker images --no-trunc` prints it
  ImageConfig config;
  std::vector<std::string> layer_dirs;  // unpacked layers, bottom first
  int64_t size = 0;                     // the compressed layers and config, in bytes
  int64_t last_used_ms = 0;             // wall clock

  // containerStatuses[].imageID: repository@digest, as the kubelet reports it.
  std::string ImageId() const;
};

struct PullOutcome {
  Image image;
  bool pulled = false;        // false: it was already here (the policy allowed that)
  int64_t fetched_bytes = 0;  // what came over the network
  std::chrono::milliseconds took{0};
};

// Which images garbage collection removes: the least recently used first among those not in
// use, until `bytes_to_free` is reached (kubelet's image GC). Pure.
struct GcCandidate {
  std::string name;
  int64_t size = 0;
  int64_t last_used_ms = 0;
  bool in_use = false;
};
std::vector<std::string> PlanImageGc(std::vector<GcCandidate> images, int64_t bytes_to_free);

class ImageStore {
 public:
  // `root` is <data-dir>/images. The transport is the network (tests may pass another).
  static Result<std::unique_ptr<ImageStore>> Open(const std::string& root, RegistryConfig config,
                                                  std::unique_ptr<RegistryTransport> transport);

  // Makes the image present as `policy` asks and returns it. Errors carry a reason in their
  // code: Invalid for a name that cannot be an image (InvalidImageName), NotFound for Never
  // with no image here (ErrImageNeverPull), other codes for a failed pull (ErrImagePull).
  Result<PullOutcome> Pull(const std::string& image, PullPolicy policy);

  // The image of that name if it is here, whole.
  std::optional<Image> Find(const std::string& image);
  std::vector<Image> List();
  // Notes that a container was made from the image now (for garbage collection's order).
  void Touch(const std::string& name);

  // Kubelet's image GC: when the file system holding the images is more than `high_percent`
  // full, removes images not named in `in_use` (fully qualified names), least recently used
  // first, until it is below `low_percent` or nothing unused is left; then blobs and layers
  // no remaining image needs. Returns the names removed.
  std::vector<std::string> CollectGarbage(const std::set<std::string>& in_use, int high_percent,
                                          int low_percent);
  // Blobs and layers no image record names (after a removal or an interrupted pull).
  void RemoveUnreferenced();
  // Removes the image record (its blobs and layers go with RemoveUnreferenced).
  Status Remove(const std::string& name);

  // For tests: the file system's capacity and free bytes (statvfs by default).
  void set_disk_usage(std::function<std::pair<int64_t, int64_t>()> f) { disk_ = std::move(f); }
  void set_idle_timeout(std::chrono::milliseconds t) { idle_timeout_ = t; }
  const std::string& root() const { return root_; }
  ContentStore& content() { return *content_; }

 private:
  ImageStore() = default;
  Result<PullOutcome> DoPull(const Reference& ref, PullPolicy policy);
  Status FetchBlobOnce(class RegistryClient& client, const Reference& ref, const Descriptor& d,
                       int64_t* fetched);
  Status UnpackOnce(const Descriptor& layer, const std::string& diff_id);
  std::string LayerDir(const std::string& diff_id) const;
  std::string RecordPath(const std::string& name) const;
  std::optional<Image> Load(const std::string& name);
  Status Save(const Image& image);
  std::mutex& KeyLock(const std::string& key);

  std::string root_;
  RegistryConfig config_;
  std::unique_ptr<RegistryTransport> transport_;
  std::unique_ptr<ContentStore> content_;
  std::function<std::pair<int64_t, int64_t>()> disk_;
  std::chrono::milliseconds idle_timeout_{30000};

  std::shared_mutex gc_mu_;  // pulls share it; removing unreferenced blobs and layers owns it
  std::mutex mu_;            // guards what follows, and record files
  std::map<std::string, std::shared_ptr<std::mutex>> key_locks_;  // per blob / layer
  struct InFlight {
    bool done = false;
    std::optional<Result<PullOutcome>> result;
    std::condition_variable cv;
  };
  std::map<std::string, std::shared_ptr<InFlight>> in_flight_;  // by image name
};

}  // namespace tug::agent::image
