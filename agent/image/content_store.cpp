#include "agent/image/content_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "agent/image/digest.h"
#include "agent/image/reference.h"
#include "base/file.h"

namespace tug::agent::image {

namespace fs = std::filesystem;

namespace {

// "sha256:abc" -> "sha256/abc" (only for digests that passed ValidDigest).
std::string DigestPath(const std::string& digest) {
  auto colon = digest.find(':');
  return digest.substr(0, colon) + "/" + digest.substr(colon + 1);
}

}  // namespace

Result<std::unique_ptr<ContentStore>> ContentStore::Open(const std::string& root) {
  std::error_code ec;
  for (const char* sub : {"blobs/sha256", "blobs/sha512", "ingest"}) {
    fs::create_directories(root + "/" + sub, ec);
    if (ec) return Status::Error("cannot create " + root + "/" + sub + ": " + ec.message());
  }
  // What an earlier process left half-written is never used: clear it.
  for (auto it = fs::directory_iterator(root + "/ingest", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec))
    fs::remove(it->path(), ec);
  return std::unique_ptr<ContentStore>(new ContentStore(root));
}

std::string ContentStore::BlobPath(const std::string& digest) const {
  return root_ + "/blobs/" + DigestPath(digest);
}

bool ContentStore::Has(const std::string& digest) const {
  std::error_code ec;
  return ValidDigest(digest) && fs::is_regular_file(BlobPath(digest), ec);
}

Result<std::unique_ptr<ContentStore::Writer>> ContentStore::NewWriter(const std::string& digest,
                                                                      int64_t expected_size) {
  if (!ValidDigest(digest)) return Status::Invalid("\"" + digest + "\" is not a digest");
  auto hasher = Hasher::Create(digest.substr(0, digest.find(':')));
  if (!hasher.ok()) return hasher.status();
  static std::atomic<uint64_t> seq{0};
  std::unique_ptr<Writer> w(new Writer());
  w->digest_ = digest;
  w->expected_size_ = expected_size;
  w->final_path_ = BlobPath(digest);
  w->tmp_path_ = root_ + "/ingest/" + digest.substr(0, digest.find(':')) + "-" +
                 digest.substr(digest.find(':') + 1) + "." + std::to_string(::getpid()) + "." +
                 std::to_string(seq++);
  w->hasher_ = std::move(hasher).value();
  w->fd_ = ::open(w->tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (w->fd_ < 0) return Status::Error("cannot create " + w->tmp_path_ + ": " + Errno());
  return w;
}

ContentStore::Writer::~Writer() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_path_.c_str());
}

Status ContentStore::Writer::Write(std::string_view bytes) {
  if (fd_ < 0) return Status::Error("blob " + digest_ + ": written after it was committed");
  written_ += static_cast<int64_t>(bytes.size());
  if (expected_size_ >= 0 && written_ > expected_size_)
    return Status::Invalid("blob " + digest_ + ": more than the " + std::to_string(expected_size_) +
                           " bytes its descriptor announced");
  hasher_->Update(bytes);
  while (!bytes.empty()) {
    ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Error("writing " + tmp_path_ + ": " + Errno());
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status ContentStore::Writer::Commit() {
  if (fd_ < 0) return Status::Error("blob " + digest_ + ": committed twice");
  if (expected_size_ >= 0 && written_ != expected_size_)
    return Status::Invalid("blob " + digest_ + ": got " + std::to_string(written_) +
                           " bytes, its descriptor announced " + std::to_string(expected_size_));
  std::string got = hasher_->Finish();
  if (got != digest_)
    return Status::Invalid("blob content does not match its digest: expected " + digest_ +
                           ", got " + got);
  if (::fdatasync(fd_) != 0) return Status::Error("syncing " + tmp_path_ + ": " + Errno());
  ::close(fd_);
  fd_ = -1;
  if (::rename(tmp_path_.c_str(), final_path_.c_str()) != 0)
    return Status::Error("cannot move " + tmp_path_ + " to " + final_path_ + ": " + Errno());
  committed_ = true;
  return Status::Ok();
}

Status ContentStore::Put(const std::string& digest, std::string_view bytes) {
  auto w = NewWriter(digest, static_cast<int64_t>(bytes.size()));
  if (!w.ok()) return w.status();
  if (Status s = w.value()->Write(bytes); !s) return s;
  return w.value()->Commit();
}

Result<std::string> ContentStore::Read(const std::string& digest) const {
  if (!ValidDigest(digest)) return Status::Invalid("\"" + digest + "\" is not a digest");
  std::string bytes;
  if (Status s = ReadWholeFile(BlobPath(digest), &bytes); !s) return s;
  // A blob damaged on disk since it was written is not used.
  if (Status s = VerifyDigest(bytes, digest, "stored blob"); !s) return s;
  return bytes;
}

}  // namespace tug::agent::image
