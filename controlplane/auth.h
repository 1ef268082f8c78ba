// Bearer-token authentication of API requests.
//
// Every member accepts one cluster token. With --token-file, that file's token (give every
// member the same file). Without it, the cluster's own token: the first leader generates one
// and stores it in the replicated store, and every member writes what it learns to
// <data-dir>/token (mode 0600), where an operator picks it up for tugctl and the agents. A
// member that restarts uses its saved copy until it hears from the store again.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"

namespace tug::cp {

class TokenAuth {
 public:
  // The store key of the cluster token.
  static constexpr const char* kStoreKey = "/tug/cluster-token";

  // `token_file` empty: the token saved in `data_dir`, if any. Errors name the file.
  static Result<std::unique_ptr<TokenAuth>> Open(const std::string& data_dir,
                                                 const std::string& token_file);

  // Whether `authorization` (the header's value) is "Bearer <the token>". False while no
  // token is known yet.
  bool Check(const std::string& authorization) const;

  bool has_token() const { return !token_.empty(); }
  const std::string& token() const { return token_; }
  // From --token-file: never replaced by the store's.
  bool fixed() const { return fixed_; }
  // Where the token can be read by people and programs on this machine.
  const std::string& path() const { return path_; }

  // Adopts the cluster token from the store and saves it (tmp, fsync, rename; mode 0600).
  // A fixed token is kept.
  Status Adopt(const std::string& token);

  // A new random token: 32 bytes from the kernel's generator, as hex.
  static Result<std::string> Generate();

 private:
  std::string token_;
  std::string path_;
  bool fixed_ = false;
};

}  // namespace tug::cp
