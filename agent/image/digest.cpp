#include "agent/image/digest.h"

#include <openssl/evp.h>

#include "agent/image/reference.h"

namespace tug::agent::image {

struct Hasher::State {
  EVP_MD_CTX* ctx = nullptr;
  ~State() {
    if (ctx) EVP_MD_CTX_free(ctx);
  }
};

Result<std::unique_ptr<Hasher>> Hasher::Create(const std::string& algorithm) {
  const EVP_MD* md = algorithm == "sha256"   ? EVP_sha256()
                     : algorithm == "sha512" ? EVP_sha512()
                                             : nullptr;
  if (!md) return Status::Invalid("unsupported digest algorithm \"" + algorithm + "\"");
  std::unique_ptr<Hasher> h(new Hasher());
  h->s_ = std::make_unique<State>();
  h->s_->ctx = EVP_MD_CTX_new();
  h->algorithm_ = algorithm;
  if (!h->s_->ctx || EVP_DigestInit_ex(h->s_->ctx, md, nullptr) != 1)
    return Status::Error("OpenSSL could not start a " + algorithm + " digest");
  return h;
}

Hasher::~Hasher() = default;

void Hasher::Update(std::string_view bytes) {
  EVP_DigestUpdate(s_->ctx, bytes.data(), bytes.size());
}

std::string Hasher::Finish() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(s_->ctx, out, &n);
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < n; ++i) {
    hex += kHex[out[i] >> 4];
    hex += kHex[out[i] & 15];
  }
  return algorithm_ + ":" + hex;
}

Result<std::string> DigestOf(std::string_view bytes, const std::string& like) {
  auto h = Hasher::Create(like.substr(0, like.find(':')));
  if (!h.ok()) return h.status();
  h.value()->Update(bytes);
  return h.value()->Finish();
}

Status VerifyDigest(std::string_view bytes, const std::string& want, const std::string& what) {
  if (!ValidDigest(want)) return Status::Invalid(what + ": \"" + want + "\" is not a digest");
  auto got = DigestOf(bytes, want);
  if (!got.ok()) return got.status();
  if (got.value() != want)
    return Status::Invalid(what + ": content does not match its digest: expected " + want +
                           ", got " + got.value());
  return Status::Ok();
}

}  // namespace tug::agent::image
