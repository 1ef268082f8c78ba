#include "controlplane/auth.h"

#include <cstdio>

#include "base/file.h"
#include "net/bearer.h"

namespace tug::cp {

namespace {

std::string Trim(std::string s) {
  while (!s.empty() &&
         (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
    s.pop_back();
  size_t b = s.find_first_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b);
}

}  // namespace

Result<std::unique_ptr<TokenAuth>> TokenAuth::Open(const std::string& data_dir,
                                                   const std::string& token_file) {
  auto a = std::make_unique<TokenAuth>();
  a->fixed_ = !token_file.empty();
  a->path_ = a->fixed_ ? token_file : data_dir + "/token";
  std::string text;
  Status s = ReadWholeFile(a->path_, &text);
  if (a->fixed_) {
    if (!s) return Status::Error("cannot read --token-file: " + s.message());
    a->token_ = Trim(text);
    if (a->token_.empty())
      return Status::Error("--token-file " + token_file + " is empty: put the cluster token in it");
    if (a->token_.find_first_of(" \t\r\n") != std::string::npos)
      return Status::Error("--token-file " + token_file + " holds more than one word");
  } else if (s) {
    a->token_ = Trim(text);
  }
  return a;
}

bool TokenAuth::Check(const std::string& authorization) const {
  return net::BearerMatches(authorization, token_);
}

Status TokenAuth::Adopt(const std::string& token) {
  if (fixed_ || token == token_) return Status::Ok();
  if (Status s = WriteFileAtomically(path_, token + "\n", {.mode = 0600, .durable = true}); !s)
    return s;
  token_ = token;
  return Status::Ok();
}

Result<std::string> TokenAuth::Generate() {
  unsigned char buf[32];
  FILE* f = std::fopen("/dev/urandom", "rb");
  if (!f || std::fread(buf, 1, sizeof buf, f) != sizeof buf) {
    if (f) std::fclose(f);
    return Status::Error("cannot read /dev/urandom to make a cluster token");
  }
  std::fclose(f);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : buf) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

}  // namespace tug::cp
