#include "agent/image/reference.h"

#include <cctype>

namespace tug::agent::image {

namespace {

constexpr size_t kMaxNameLength = 255;  // distribution's NameTotalLengthMax

bool LowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// One path component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)*
bool ValidComponent(const std::string& c) {
  if (c.empty() || !LowerAlnum(c.front()) || !LowerAlnum(c.back())) return false;
  for (size_t i = 0; i < c.size();) {
    if (LowerAlnum(c[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    if (c[i] == '.') {
      j = i + 1;
    } else if (c[i] == '_') {
      j = i + 1;
      if (j < c.size() && c[j] == '_') ++j;
    } else if (c[i] == '-') {
      while (j < c.size() && c[j] == '-')
        ++j;
    } else {
      return false;
    }
    if (j >= c.size() || !LowerAlnum(c[j])) return false;
    i = j;
  }
  return true;
}

bool ValidTag(const std::string& t) {
  if (t.empty() || t.size() > 128) return false;
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!word(t[0])) return false;
  for (char c : t)
    if (!word(c) && c != '.' && c != '-') return false;
  return true;
}

// host[:port], as distribution's domain grammar allows (no IPv6 literals here).
bool ValidHost(const std::string& h) {
  if (h.empty()) return false;
  auto colon = h.rfind(':');
  std::string host = colon == std::string::npos ? h : h.substr(0, colon);
  if (colon != std::string::npos) {
    std::string port = h.substr(colon + 1);
    if (port.empty() || port.size() > 5) return false;
    for (char c : port)
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  if (host.empty()) return false;
  for (char c : host)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') return false;
  return host.front() != '-' && host.front() != '.' && host.back() != '-' && host.back() != '.';
}

}  // namespace

bool ValidDigest(const std::string& d) {
  auto colon = d.find(':');
  if (colon == std::string::npos) return false;
  std::string alg = d.substr(0, colon), hex = d.substr(colon + 1);
  size_t want = alg == "sha256" ? 64 : alg == "sha512" ? 128 : 0;
  if (want == 0 || hex.size() != want) return false;
  for (char c : hex)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string Reference::String() const {
  std::string s = registry + "/" + repository;
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

std::string Reference::ApiHost() const {
  return registry == "docker.io" ? "registry-1.docker.io" : registry;
}

Result<Reference> ParseReference(const std::string& text) {
  auto bad = [&](const std::string& why) -> Status {
    return Status::Invalid("invalid image reference \"" + text + "\": " + why);
  };
  if (text.empty()) return bad("it is empty");
  std::string rest = text;
  Reference r;
  if (auto at = rest.find('@'); at != std::string::npos) {
    r.digest = rest.substr(at + 1);
    rest = rest.substr(0, at);
    if (!ValidDigest(r.digest))
      return bad("the digest must be sha256:<64 hex digits> or sha512:<128 hex digits>");
  }
  // A tag is after the last ':' that comes after the last '/' (a ':' before it is a port).
  auto slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    r.tag = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    if (!ValidTag(r.tag))
      return bad("the tag \"" + r.tag +
                 "\" must be letters, digits, '_', '.' and '-' (not first), at most 128");
  }
  auto first = rest.find('/');
  std::string head = first == std::string::npos ? "" : rest.substr(0, first);
  bool has_host =
      first != std::string::npos &&
      (head.find_first_of(".:") != std::string::npos || head == "localhost" || head != [&] {
        std::string lower = head;
        for (auto& c : lower)
          c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return lower;
      }());
  if (has_host) {
    r.registry = head;
    r.repository = rest.substr(first + 1);
    if (!ValidHost(r.registry)) return bad("\"" + r.registry + "\" is not a registry host");
  } else {
    r.registry = "docker.io";
    r.repository = rest;
  }
  if (r.registry == "index.docker.io") r.registry = "docker.io";
  if (r.registry == "docker.io" && r.repository.find('/') == std::string::npos)
    r.repository = "library/" + r.repository;
  if (r.repository.empty()) return bad("it names no repository");
  if (r.registry.size() + 1 + r.repository.size() > kMaxNameLength)
    return bad("the name is longer than 255 characters");
  size_t start = 0;
  while (start <= r.repository.size()) {
    auto end = r.repository.find('/', start);
    if (end == std::string::npos) end = r.repository.size();
    std::string comp = r.repository.substr(start, end - start);
    if (!ValidComponent(comp))
      return bad("\"" + comp +
                 "\" must be lowercase letters and digits, separated by '.', '_', '__' or "
                 "'-'");
    start = end + 1;
  }
  if (r.tag.empty() && r.digest.empty()) r.tag = "latest";
  return r;
}

}  // namespace tug::agent::image
