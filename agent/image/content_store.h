// The agent's content store: blobs (manifests, configs, compressed layers) by digest, shared
// between images, under `<data-dir>/images/blobs/<algorithm>/<hex>`.
//
// A blob appears under its digest only once all of it was written, its size and digest
// checked and the file synced: it is written to `ingest/` first and renamed into place, so a
// pull that fails or a crash mid-download never leaves a half-written blob to be used. A
// mismatch is an error naming the expected and actual digests.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace tug::agent::image {

class Hasher;

class ContentStore {
 public:
  // Creates the folders under `root` if missing.
  static Result<std::unique_ptr<ContentStore>> Open(const std::string& root);

  bool Has(const std::string& digest) const;
  // Where the blob is (whether or not it exists yet).
  std::string BlobPath(const std::string& digest) const;

  // Streams one blob in. Write as it arrives; Commit checks size and digest and moves it into
  // place. Destroyed without a successful Commit, it leaves nothing behind.
  class Writer {
   public:
    ~Writer();
    Status Write(std::string_view bytes);
    Status Commit();

   private:
    friend class ContentStore;
    Writer() = default;
    std::string digest_, tmp_path_, final_path_;
    int64_t expected_size_ = -1, written_ = 0;
    int fd_ = -1;
    std::unique_ptr<Hasher> hasher_;
    bool committed_ = false;
  };
  // `expected_size` < 0: not known in advance (only the digest is checked).
  Result<std::unique_ptr<Writer>> NewWriter(const std::string& digest, int64_t expected_size);

  // The whole of a small blob (a manifest, a config), checked against its digest again.
  Result<std::string> Read(const std::string& digest) const;
  Status Put(const std::string& digest, std::string_view bytes);

 private:
  explicit ContentStore(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

}  // namespace tug::agent::image
