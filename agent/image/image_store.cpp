#include "agent/image/image_store.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "agent/image/digest.h"
#include "agent/image/layer_unpack.h"
#include "agent/image/registry_client.h"
#include "base/file.h"

namespace tug::agent::image {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// A config is a few KiB; this bounds what a hostile registry can make the agent hold.
constexpr int64_t kMaxConfigBytes = 8 << 20;
// Threads that fetch and unpack one image's layers at once (containerd's default is 3).
constexpr size_t kLayerWorkers = 3;

int64_t NowWallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Hex(const std::string& digest) {
  return digest.substr(digest.find(':') + 1);
}
std::string Algo(const std::string& digest) {
  return digest.substr(0, digest.find(':'));
}

}  // namespace

PullPolicy DefaultPullPolicy(const std::string& image) {
  auto ref = ParseReference(image);
  if (!ref.ok()) return PullPolicy::kIfNotPresent;
  return ref->digest.empty() && ref->tag == "latest" ? PullPolicy::kAlways
                                                     : PullPolicy::kIfNotPresent;
}

Result<PullPolicy> ParsePullPolicy(const std::string& text, const std::string& image) {
  if (text.empty()) return DefaultPullPolicy(image);
  if (text == "Always") return PullPolicy::kAlways;
  if (text == "IfNotPresent") return PullPolicy::kIfNotPresent;
  if (text == "Never") return PullPolicy::kNever;
  return Status::Invalid("imagePullPolicy: Unsupported value: \"" + text +
                         "\": supported values: \"Always\", \"IfNotPresent\", \"Never\"");
}

std::string Image::ImageId() const {
  auto ref = ParseReference(name);
  std::string repo = ref.ok() ? ref->registry + "/" + ref->repository : name;
  return repo + "@" + digest;
}

std::vector<std::string> PlanImageGc(std::vector<GcCandidate> images, int64_t bytes_to_free) {
  std::stable_sort(images.begin(), images.end(), [](const GcCandidate& a, const GcCandidate& b) {
    return a.last_used_ms < b.last_used_ms;
  });
  std::vector<std::string> out;
  int64_t freed = 0;
  for (const auto& i : images) {
    if (freed >= bytes_to_free) break;
    if (i.in_use) continue;
    out.push_back(i.name);
    freed += i.size;
  }
  return out;
}

Result<std::unique_ptr<ImageStore>> ImageStore::Open(const std::string& root, RegistryConfig config,
                                                     std::unique_ptr<RegistryTransport> transport) {
  std::unique_ptr<ImageStore> s(new ImageStore());
  s->root_ = root;
  s->config_ = std::move(config);
  s->transport_ = std::move(transport);
  auto content = ContentStore::Open(root);
  if (!content.ok()) return content.status();
  s->content_ = std::move(content).value();
  std::error_code ec;
  for (const char* sub : {"layers/sha256", "layers/sha512", "layers/tmp", "refs"}) {
    fs::create_directories(root + "/" + sub, ec);
    if (ec) return Status::Error("cannot create " + root + "/" + sub + ": " + ec.message());
  }
  // Layers an earlier process was unpacking when it stopped are not whole: remove them.
  for (auto it = fs::directory_iterator(root + "/layers/tmp", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec))
    fs::remove_all(it->path(), ec);
  s->disk_ = [root]() -> std::pair<int64_t, int64_t> {
    struct statvfs v;
    if (::statvfs(root.c_str(), &v) != 0) return {0, 0};
    return {static_cast<int64_t>(v.f_blocks) * static_cast<int64_t>(v.f_frsize),
            static_cast<int64_t>(v.f_bavail) * static_cast<int64_t>(v.f_frsize)};
  };
  return s;
}

std::string ImageStore::LayerDir(const std::string& diff_id) const {
  return root_ + "/layers/" + Algo(diff_id) + "/" + Hex(diff_id);
}

std::string ImageStore::RecordPath(const std::string& name) const {
  return root_ + "/refs/" + Hex(DigestOf(name).value()) + ".json";
}

std::mutex& ImageStore::KeyLock(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  auto& m = key_locks_[key];
  if (!m) m = std::make_shared<std::mutex>();
  return *m;
}

std::optional<Image> ImageStore::Load(const std::string& name) {
  std::string text;
  if (!ReadWholeFile(RecordPath(name), &text).ok()) return std::nullopt;
  auto j = json::parse(text, nullptr, false);
  if (!j.is_object() || j.value("name", "") != name) return std::nullopt;
  Image img;
  img.name = name;
  img.digest = j.value("digest", "");
  img.config_digest = j.value("config", "");
  img.size = j.value("size", int64_t{0});
  img.last_used_ms = j.value("lastUsed", int64_t{0});
  auto config_text = content_->Read(img.config_digest);
  if (!config_text.ok()) return std::nullopt;
  auto config = ParseImageConfig(*config_text);
  if (!config.ok()) return std::nullopt;
  img.config = *config;
  // Whole only if every layer is unpacked (a layer dir exists only once it was checked).
  std::error_code ec;
  for (const auto& d : img.config.diff_ids) {
    if (!fs::is_directory(LayerDir(d), ec)) return std::nullopt;
    img.layer_dirs.push_back(LayerDir(d));
  }
  return img;
}

Status ImageStore::Save(const Image& img) {
  json j = {{"name", img.name},
            {"digest", img.digest},
            {"config", img.config_digest},
            {"size", img.size},
            {"lastUsed", img.last_used_ms}};
  return WriteFileAtomically(RecordPath(img.name), j.dump());
}

std::optional<Image> ImageStore::Find(const std::string& image) {
  auto ref = ParseReference(image);
  if (!ref.ok()) return std::nullopt;
  std::lock_guard<std::mutex> l(mu_);
  return Load(ref->String());
}

std::vector<Image> ImageStore::List() {
  std::vector<Image> out;
  std::lock_guard<std::mutex> l(mu_);
  std::error_code ec;
  for (auto it = fs::directory_iterator(root_ + "/refs", ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::string text;
    if (!ReadWholeFile(it->path().string(), &text).ok()) continue;
    auto j = json::parse(text, nullptr, false);
    if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) continue;
    if (auto img = Load(j["name"].get<std::string>())) out.push_back(*img);
  }
  return out;
}

void ImageStore::Touch(const std::string& name) {
  std::lock_guard<std::mutex> l(mu_);
  if (auto img = Load(name)) {
    img->last_used_ms = NowWallMs();
    (void)Save(*img);
  }
}

Status ImageStore::FetchBlobOnce(RegistryClient& client, const Reference& ref, const Descriptor& d,
                                 int64_t* fetched) {
  std::lock_guard<std::mutex> l(KeyLock(d.digest));
  if (content_->Has(d.digest)) return Status::Ok();
  auto w = content_->NewWriter(d.digest, d.size);
  if (!w.ok()) return w.status();
  auto& writer = *w.value();
  auto s = client.FetchBlob(ref, d.digest, d.size, [&](std::string_view b) {
    *fetched += static_cast<int64_t>(b.size());
    return writer.Write(b);
  });
  if (!s.ok()) return s;
  return writer.Commit();
}

Status ImageStore::UnpackOnce(const Descriptor& layer, const std::string& diff_id) {
  std::lock_guard<std::mutex> l(KeyLock(diff_id));
  std::error_code ec;
  std::string final_dir = LayerDir(diff_id);
  if (fs::is_directory(final_dir, ec)) return Status::Ok();
  static std::atomic<uint64_t> seq{0};
  std::string tmp = root_ + "/layers/tmp/" + Hex(diff_id).substr(0, 16) + "-" +
                    std::to_string(::getpid()) + "-" + std::to_string(seq++);
  fs::create_directory(tmp, ec);
  if (ec) return Status::Error("cannot create " + tmp + ": " + ec.message());
  auto unpacked =
      UnpackLayer(content_->BlobPath(layer.digest), LayerIsGzip(layer.media_type), diff_id, tmp);
  if (unpacked.ok()) {
    // The layer's files reach the disk before the directory appears under its diff_id.
    if (int fd = ::open(tmp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); fd >= 0) {
      (void)::syncfs(fd);
      ::close(fd);
    }
    fs::rename(tmp, final_dir, ec);
    if (!ec) return Status::Ok();
  }
  fs::remove_all(tmp, ec);
  if (!unpacked.ok()) return unpacked.status();
  return Status::Error("cannot move the unpacked layer " + diff_id + " into place");
}

Result<PullOutcome> ImageStore::Pull(const std::string& image, PullPolicy policy) {
  auto ref = ParseReference(image);
  if (!ref.ok())
    return Status::Invalid("Failed to apply default image tag \"" + image +
                           "\": couldn't parse image name \"" + image +
                           "\": " + ref.status().message());
  const std::string name = ref->String();
  std::shared_ptr<InFlight> f;
  bool leader = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = in_flight_.find(name);
    if (it != in_flight_.end()) {
      f = it->second;
    } else {
      f = std::make_shared<InFlight>();
      in_flight_[name] = f;
      leader = true;
    }
  }
  if (!leader) {
    // Someone is pulling this name already: its outcome is ours (as "already present").
    std::unique_lock<std::mutex> l(mu_);
    f->cv.wait(l, [&] { return f->done; });
    auto r = *f->result;
    if (r.ok()) {
      PullOutcome o = r.value();
      o.pulled = false;
      o.fetched_bytes = 0;
      return o;
    }
    return r;
  }
  auto r = DoPull(*ref, policy);
  {
    std::lock_guard<std::mutex> l(mu_);
    f->result = r;
    f->done = true;
    in_flight_.erase(name);
  }
  f->cv.notify_all();
  return r;
}

Result<PullOutcome> ImageStore::DoPull(const Reference& ref, PullPolicy policy) {
  std::shared_lock<std::shared_mutex> pulling(gc_mu_);
  const auto start = std::chrono::steady_clock::now();
  const std::string name = ref.String();
  std::optional<Image> local;
  {
    std::lock_guard<std::mutex> l(mu_);
    local = Load(name);
  }
  auto done = [&](Image img, bool pulled, int64_t fetched) -> Result<PullOutcome> {
    img.last_used_ms = NowWallMs();
    {
      std::lock_guard<std::mutex> l(mu_);
      if (auto s = Save(img); !s.ok())
        return Status::Error("cannot record the image: " + s.message());
    }
    PullOutcome o;
    o.image = std::move(img);
    o.pulled = pulled;
    o.fetched_bytes = fetched;
    o.took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    return o;
  };
  if (policy == PullPolicy::kNever) {
    if (local) return done(*local, false, 0);
    return Status::NotFound("Container image \"" + name +
                            "\" is not present with pull policy of Never");
  }
  if (policy == PullPolicy::kIfNotPresent && local) return done(*local, false, 0);

  RegistryClient client(config_, *transport_);
  client.set_idle_timeout(idle_timeout_);
  auto top = client.FetchManifest(ref, ref.Selector());
  if (!top.ok()) return top.status();
  auto parsed = ParseManifest(top->body, top->media_type);
  if (!parsed.ok())
    return Status::Invalid("the manifest of " + name + " (" + top->digest +
                           "): " + parsed.status().message());
  std::string manifest_digest = top->digest;
  std::string manifest_body = top->body;
  if (parsed->is_index) {
    if (auto s = content_->Put(top->digest, top->body); !s.ok()) return s;
    auto chosen = SelectPlatform(*parsed);
    if (!chosen.ok()) return Status::NotFound(name + ": " + chosen.status().message());
    auto m = client.FetchManifest(ref, chosen->digest);
    if (!m.ok()) return m.status();
    parsed = ParseManifest(m->body, m->media_type.empty() ? chosen->media_type : m->media_type);
    if (!parsed.ok())
      return Status::Invalid("the manifest of " + name + " (" + m->digest +
                             "): " + parsed.status().message());
    if (parsed->is_index)
      return Status::Invalid("the index of " + name + " points at another index (" + m->digest +
                             ") for linux/amd64");
    manifest_digest = m->digest;
    manifest_body = m->body;
  }
  // Always: a tag that still names what is here is not downloaded again.
  if (local && local->digest == manifest_digest) return done(*local, false, 0);

  if (auto s = content_->Put(manifest_digest, manifest_body); !s.ok()) return s;
  int64_t fetched = 0;
  if (parsed->config.size > kMaxConfigBytes)
    return Status::Invalid("the image config of " + name + " claims " +
                           std::to_string(parsed->config.size) + " bytes, over the limit of " +
                           std::to_string(kMaxConfigBytes));
  if (auto s = FetchBlobOnce(client, ref, parsed->config, &fetched); !s.ok()) return s;
  auto config_text = content_->Read(parsed->config.digest);
  if (!config_text.ok()) return config_text.status();
  auto config = ParseImageConfig(*config_text);
  if (!config.ok())
    return Status::Invalid("the image config of " + name + " (" + parsed->config.digest +
                           "): " + config.status().message());
  if (config->diff_ids.size() != parsed->layers.size())
    return Status::Invalid("the image " + name + " has " + std::to_string(parsed->layers.size()) +
                           " layers but its config lists " +
                           std::to_string(config->diff_ids.size()) + " diff_ids");
  Image img;
  img.name = name;
  img.digest = manifest_digest;
  img.config_digest = parsed->config.digest;
  img.config = *config;
  img.size = parsed->config.size;
  // Layers are independent (each is unpacked into a directory of its own): up to
  // kLayerWorkers threads fetch and unpack them, so that one layer's download overlaps
  // another's unpacking. After a failure no further layer is started.
  const size_t n = parsed->layers.size();
  std::vector<Status> results(n, Status::Ok());
  std::vector<int64_t> got(n, 0);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto work = [&](RegistryClient& c) {
    for (size_t i; !failed && (i = next++) < n;) {
      results[i] = FetchBlobOnce(c, ref, parsed->layers[i], &got[i]);
      if (results[i].ok()) results[i] = UnpackOnce(parsed->layers[i], config->diff_ids[i]);
      if (!results[i].ok()) failed = true;
    }
  };
  std::vector<std::thread> helpers;
  for (size_t k = 1; k < std::min(n, kLayerWorkers); ++k) {
    helpers.emplace_back([&] {
      RegistryClient c(config_, *transport_);  // a token of its own, if the registry asks
      c.set_idle_timeout(idle_timeout_);
      work(c);
    });
  }
  work(client);
  for (auto& t : helpers)
    t.join();
  for (size_t i = 0; i < n; ++i) {
    if (!results[i].ok()) return results[i];
    img.layer_dirs.push_back(LayerDir(config->diff_ids[i]));
    img.size += parsed->layers[i].size;
    fetched += got[i];
  }
  return done(std::move(img), true, fetched);
}

Status ImageStore::Remove(const std::string& name) {
  std::lock_guard<std::mutex> l(mu_);
  std::error_code ec;
  fs::remove(RecordPath(name), ec);
  if (ec) return Status::Error("cannot remove the image " + name + ": " + ec.message());
  return Status::Ok();
}

void ImageStore::RemoveUnreferenced() {
  std::set<std::string> keep_blobs, keep_layers;
  // A pull in progress holds blobs and layers no record names yet: wait for pulls to end,
  // and keep new ones out while deciding.
  std::unique_lock<std::shared_mutex> exclusive(gc_mu_);
  for (const auto& img : List()) {
    keep_blobs.insert(img.digest);
    keep_blobs.insert(img.config_digest);
    for (const auto& d : img.config.diff_ids)
      keep_layers.insert(d);
    if (auto body = content_->Read(img.digest); body.ok())
      if (auto m = ParseManifest(*body, ""); m.ok())
        for (const auto& layer : m->layers)
          keep_blobs.insert(layer.digest);
  }
  // Only what a record names is kept: an index an image was chosen from goes too (a later
  // pull fetches it again, and it is a few hundred bytes).
  std::error_code ec;
  for (const char* algo : {"sha256", "sha512"}) {
    for (auto it = fs::directory_iterator(root_ + "/blobs/" + algo, ec);
         !ec && it != fs::directory_iterator(); it.increment(ec)) {
      std::string d = std::string(algo) + ":" + it->path().filename().string();
      if (!keep_blobs.count(d)) fs::remove(it->path(), ec);
    }
    for (auto it = fs::directory_iterator(root_ + "/layers/" + algo, ec);
         !ec && it != fs::directory_iterator(); it.increment(ec)) {
      std::string d = std::string(algo) + ":" + it->path().filename().string();
      if (!keep_layers.count(d)) fs::remove_all(it->path(), ec);
    }
  }
}

std::vector<std::string> ImageStore::CollectGarbage(const std::set<std::string>& in_use,
                                                    int high_percent, int low_percent) {
  auto [capacity, available] = disk_();
  if (capacity <= 0) return {};
  int64_t used = capacity - available;
  if (used * 100 <= capacity * high_percent) return {};
  int64_t to_free = used - capacity * low_percent / 100;
  std::vector<GcCandidate> candidates;
  for (const auto& img : List())
    candidates.push_back({img.name, img.size, img.last_used_ms, in_use.count(img.name) > 0});
  auto victims = PlanImageGc(candidates, to_free);
  for (const auto& v : victims)
    (void)Remove(v);
  if (!victims.empty()) RemoveUnreferenced();
  return victims;
}

}  // namespace tug::agent::image
