// Content digests as the OCI specs write them ("sha256:<hex>"), computed with OpenSSL, in one
// go or streaming (a layer is hashed as it arrives, never held whole in memory).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace tug::agent::image {

class Hasher {
 public:
  // `algorithm`: "sha256" or "sha512".
  static Result<std::unique_ptr<Hasher>> Create(const std::string& algorithm);
  ~Hasher();
  void Update(std::string_view bytes);
  // "sha256:<lowercase hex>"; the hasher is spent afterwards.
  std::string Finish();

 private:
  Hasher() = default;
  struct State;
  std::unique_ptr<State> s_;
  std::string algorithm_;
};

// The digest of `bytes` with the algorithm `like` names ("sha256:..." -> sha256).
Result<std::string> DigestOf(std::string_view bytes, const std::string& like = "sha256:");

// Ok if `bytes` hash to `want`; otherwise an error naming both digests and `what`.
Status VerifyDigest(std::string_view bytes, const std::string& want, const std::string& what);

}  // namespace tug::agent::image
