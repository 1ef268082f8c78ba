// The API over HTTPS, for kubectl (which sends its bearer token only over TLS): accepts TLS
// connections (1.2 or later), completes the handshake, and relays the plaintext both ways to
// the member's own HTTP server. The HTTP server thus has one code path for both, and answers
// exactly the same; it sees these clients as coming from the relay's address.
//
// Bounded like the HTTP server: a handshake must finish within 10 s, and a client that stops
// reading for 30 s while an answer is being written is disconnected. An idle connection ends
// when the HTTP server closes its side (after 120 s).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"

namespace boost::asio {
class io_context;
}

namespace tug::net {

class TlsTerminator {
 public:
  explicit TlsTerminator(boost::asio::io_context& io);
  ~TlsTerminator();
  TlsTerminator(const TlsTerminator&) = delete;
  TlsTerminator& operator=(const TlsTerminator&) = delete;

  // The PEM certificate chain (the server's certificate first, then any CAs) and its key.
  // The error names the file that cannot be used.
  Status UseCertificate(const std::string& cert_file, const std::string& key_file);
  // Listens on "ip:port" (port 0: a free one, see port()) and relays each connection to
  // `backend` ("ip:port" of the HTTP server). Call after UseCertificate.
  Status Listen(const std::string& addr, const std::string& backend);
  uint16_t port() const;
  // Stops taking new connections (those open end as the HTTP server ends them).
  void StopAccepting();
  // Closes everything.
  void Stop();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// The certificate a client should trust for a server using `cert_file` (a PEM chain): the
// last one in the chain, which is the CA when the file holds the chain up to it, and the
// certificate itself when it is self-signed.
Result<std::string> TlsTrustAnchor(const std::string& cert_file);

// "https://host:port" for clients of a server listening on `tls_addr`; an unspecified host
// (0.0.0.0, ::) is replaced by the host of `fallback_addr`.
std::string HttpsUrl(const std::string& tls_addr, const std::string& fallback_addr);

// Where a local client reaches a server bound to "host:port": the same, with an unspecified
// host (0.0.0.0, ::) replaced by the loopback address.
std::string LocalAddress(const std::string& bound_addr);

}  // namespace tug::net
