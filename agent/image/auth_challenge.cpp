#include "agent/image/auth_challenge.h"

#include <cctype>

#include "net/http_client.h"

namespace tug::agent::image {

namespace {

bool TokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string("!#$%&'*+-.^_`|~").find(c) != std::string::npos;
}

std::string Lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

Result<Challenge> ParseChallenge(const std::string& h) {
  auto bad = [&](const std::string& why) -> Status {
    return Status::Invalid("malformed WWW-Authenticate header \"" + h + "\": " + why);
  };
  size_t i = 0;
  auto skip_space = [&] {
    while (i < h.size() && (h[i] == ' ' || h[i] == '\t'))
      ++i;
  };
  skip_space();
  Challenge c;
  while (i < h.size() && TokenChar(h[i]))
    c.scheme += h[i++];
  if (c.scheme.empty()) return bad("no scheme");
  c.scheme = Lower(c.scheme);
  skip_space();
  while (i < h.size()) {
    std::string name;
    while (i < h.size() && TokenChar(h[i]))
      name += h[i++];
    skip_space();
    if (name.empty() || i >= h.size() || h[i] != '=') {
      // The next challenge begins (a scheme followed by a space): this one is complete.
      if (!name.empty() && !c.params.empty()) break;
      return bad("expected name=value");
    }
    ++i;
    skip_space();
    std::string value;
    if (i < h.size() && h[i] == '"') {
      ++i;
      bool closed = false;
      while (i < h.size()) {
        char ch = h[i++];
        if (ch == '\\' && i < h.size()) {
          value += h[i++];
        } else if (ch == '"') {
          closed = true;
          break;
        } else {
          value += ch;
        }
      }
      if (!closed) return bad("unterminated quoted value of " + name);
    } else {
      while (i < h.size() && TokenChar(h[i]))
        value += h[i++];
    }
    c.params[Lower(name)] = value;
    skip_space();
    if (i < h.size() && h[i] == ',') ++i;
    skip_space();
  }
  return c;
}

Result<std::string> TokenUrl(const Challenge& c, const std::string& scope) {
  if (c.scheme != "bearer") return Status::Invalid("not a Bearer challenge: " + c.scheme);
  auto realm = c.params.find("realm");
  if (realm == c.params.end() || realm->second.empty())
    return Status::Invalid("the Bearer challenge names no realm to get a token from");
  if (realm->second.rfind("https://", 0) != 0 && realm->second.rfind("http://", 0) != 0)
    return Status::Invalid("the Bearer challenge's realm \"" + realm->second +
                           "\" is not an http(s) URL");
  std::string url = realm->second;
  char sep = url.find('?') == std::string::npos ? '?' : '&';
  if (auto s = c.params.find("service"); s != c.params.end()) {
    url += sep + std::string("service=") + net::QueryEscape(s->second);
    sep = '&';
  }
  std::string sc = scope;
  if (sc.empty()) {
    if (auto s = c.params.find("scope"); s != c.params.end()) sc = s->second;
  }
  if (!sc.empty()) url += sep + std::string("scope=") + net::QueryEscape(sc);
  return url;
}

}  // namespace tug::agent::image
