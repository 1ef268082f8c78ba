// DNS messages (RFC 1035) as far as a cluster resolver needs them: a query read from bytes
// that come from any pod, and a response written for it. Pure, and bounded: the bytes are
// untrusted, so every read is checked against the length, labels are at most 63 bytes, names
// at most 255, compression pointers only point backwards (so they cannot loop) and are
// followed a few times at most, and section counts must fit the message. Anything else is an
// error value, never a crash or an exception.
//
// The authority and additional sections of a query (EDNS's OPT record, say) are walked only
// to check that they are well formed, and otherwise ignored: our answers are far below the
// 512 bytes a client without EDNS accepts, so there is nothing for EDNS to change.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace tug::agent::dns {

constexpr size_t kHeaderSize = 12;
constexpr uint16_t kTypeA = 1;
constexpr uint16_t kTypeAAAA = 28;
constexpr uint16_t kClassIn = 1;
constexpr uint16_t kClassAny = 255;
constexpr int kOpcodeQuery = 0;

enum class Rcode : uint8_t {
  kNoError = 0,
  kFormErr = 1,
  kServFail = 2,
  kNxDomain = 3,
  kNotImp = 4,
  kRefused = 5,
};

struct Header {
  uint16_t id = 0;
  uint16_t flags = 0;
  uint16_t qdcount = 0;
  uint16_t ancount = 0;
  uint16_t nscount = 0;
  uint16_t arcount = 0;

  bool qr() const { return flags & 0x8000; }
  int opcode() const { return (flags >> 11) & 0xF; }
  bool aa() const { return flags & 0x0400; }
  bool tc() const { return flags & 0x0200; }
  bool rd() const { return flags & 0x0100; }
  bool ra() const { return flags & 0x0080; }
  int rcode() const { return flags & 0xF; }
};

struct Question {
  // Lower-cased (ASCII only, as DNS compares names), labels joined by '.', no trailing dot;
  // "" is the root. A '.' or '\' inside a label is escaped with a '\', so that a label
  // holding a dot can never pass for two labels.
  std::string name;
  // The name as it was on the wire (uncompressed, case kept). Responses echo it so that
  // resolvers that randomize the case of their queries (DNS 0x20) accept them.
  std::string wire_name;
  uint16_t type = 0;
  uint16_t qclass = 0;
};

struct Message {
  Header header;
  std::vector<Question> questions;
};

// The fixed 12-byte header; an error only if there are fewer than 12 bytes, in which case
// there is not even an id to answer with and the message can only be dropped.
Result<Header> ParseHeader(const uint8_t* data, size_t len);

// The header and every question; the other sections are checked and skipped. Does not look
// at QR or the opcode: deciding what to do with them is the caller's business.
Result<Message> ParseQuery(const uint8_t* data, size_t len);

struct Response {
  Header query;  // its id, opcode and RD are copied
  // Echoed in the question section, and the owner of the A records. None for an answer
  // built from the header alone (FORMERR for a garbled query, NOTIMP). Must come from
  // ParseQuery (its wire_name is what is written).
  std::optional<Question> question;
  Rcode rcode = Rcode::kNoError;
  bool authoritative = false;
  std::vector<uint32_t> addresses;  // A records, IPv4 in host order; need a question
  uint32_t ttl = 0;
};

// QR=1, RA=1 (the shell forwards what we do not answer, so recursion is available), TC=0,
// no authority or additional records. Each A record names its owner with a compression
// pointer to the question.
std::string EncodeResponse(const Response& r);

// A query for `name` ("web.default.svc.cluster.local", trailing dot allowed), for tests and
// for whoever needs to ask; an error for an empty label, a label over 63 bytes or a name
// over 255. No escapes are read: every '.' separates labels.
Result<std::string> EncodeQuery(uint16_t id, const std::string& name, uint16_t type,
                                bool recursion_desired = true);

}  // namespace tug::agent::dns
