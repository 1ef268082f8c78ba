#include "agent/dns/dns_message.h"

#include <algorithm>

namespace tug::agent::dns {

namespace {

// Real messages chain one or two pointers; backwards-only already makes loops impossible,
// this only caps the work a hostile message can ask for.
constexpr int kMaxPointers = 16;
constexpr size_t kMaxNameWire = 255;
constexpr size_t kMinQuestion = 5;  // root name (1) + type (2) + class (2)
constexpr size_t kMinRecord = 11;   // root name (1) + type, class, ttl, rdlength (10)

uint16_t Get16(const uint8_t* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

void Put16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v & 0xFF));
}

void Put32(std::string* out, uint32_t v) {
  Put16(out, static_cast<uint16_t>(v >> 16));
  Put16(out, static_cast<uint16_t>(v & 0xFFFF));
}

// Reads the name that starts at *pos and moves *pos past it as it sits in the message (past
// the first pointer, if any). Each pointer must point before the start of the stretch of
// labels that led to it, so the places read from strictly decrease and no pointer can loop;
// names never live in the header, so no pointer may point there either.
Status ReadName(const uint8_t* data, size_t len, size_t* pos, std::string* name,
                std::string* wire) {
  name->clear();
  wire->clear();
  size_t p = *pos;
  size_t segment_start = p;
  size_t end = 0;
  int pointers = 0;
  for (;;) {
    if (p >= len) return Status::Invalid("a name runs past the end of the message");
    uint8_t b = data[p];
    if ((b & 0xC0) == 0xC0) {
      if (p + 1 >= len) return Status::Invalid("a compression pointer is cut off");
      size_t target = (static_cast<size_t>(b & 0x3F) << 8) | data[p + 1];
      if (target < kHeaderSize || target >= segment_start)
        return Status::Invalid("a compression pointer does not point back to an earlier name");
      if (++pointers > kMaxPointers) return Status::Invalid("too many compression pointers");
      if (pointers == 1) end = p + 2;
      p = segment_start = target;
      continue;
    }
    // A length byte of 64 or more is either too long a label or one of the extended label
    // types (0x40, 0x80), which nothing sends any more.
    if (b & 0xC0) return Status::Invalid("a label is longer than 63 bytes");
    if (wire->size() + 1 + b > kMaxNameWire)
      return Status::Invalid("a name is longer than 255 bytes");
    wire->push_back(static_cast<char>(b));
    if (b == 0) break;
    if (b > len - p - 1) return Status::Invalid("a label runs past the end of the message");
    if (!name->empty()) name->push_back('.');  // labels are never empty
    for (size_t i = 0; i < b; ++i) {
      char c = static_cast<char>(data[p + 1 + i]);
      wire->push_back(c);
      if (c == '.' || c == '\\') name->push_back('\\');
      name->push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    }
    p += 1 + b;
  }
  *pos = pointers > 0 ? end : p + 1;
  return Status::Ok();
}

}  // namespace

Result<Header> ParseHeader(const uint8_t* data, size_t len) {
  if (data == nullptr || len < kHeaderSize)
    return Status::Invalid("a DNS message is at least 12 bytes, this one has " +
                           std::to_string(data == nullptr ? 0 : len));
  Header h;
  h.id = Get16(data);
  h.flags = Get16(data + 2);
  h.qdcount = Get16(data + 4);
  h.ancount = Get16(data + 6);
  h.nscount = Get16(data + 8);
  h.arcount = Get16(data + 10);
  return h;
}

Result<Message> ParseQuery(const uint8_t* data, size_t len) {
  auto header = ParseHeader(data, len);
  if (!header.ok()) return header.status();
  Message m;
  m.header = *header;
  const Header& h = m.header;
  // Refuse counts the bytes cannot hold before reserving or looping on them.
  size_t records = size_t{h.ancount} + h.nscount + h.arcount;
  if (h.qdcount * kMinQuestion + records * kMinRecord > len - kHeaderSize)
    return Status::Invalid("the section counts claim more records than the message holds");
  size_t pos = kHeaderSize;
  m.questions.reserve(h.qdcount);
  for (int i = 0; i < h.qdcount; ++i) {
    Question q;
    if (Status s = ReadName(data, len, &pos, &q.name, &q.wire_name); !s.ok()) return s;
    if (len - pos < 4) return Status::Invalid("a question is cut off after its name");
    q.type = Get16(data + pos);
    q.qclass = Get16(data + pos + 2);
    pos += 4;
    m.questions.push_back(std::move(q));
  }
  std::string name, wire;
  for (size_t i = 0; i < records; ++i) {
    if (Status s = ReadName(data, len, &pos, &name, &wire); !s.ok()) return s;
    if (len - pos < 10) return Status::Invalid("a record is cut off after its name");
    size_t rdlength = Get16(data + pos + 8);
    pos += 10;
    if (rdlength > len - pos) return Status::Invalid("a record's data runs past the end");
    pos += rdlength;
  }
  // Bytes after the last record are ignored: they cannot change the question.
  return m;
}

std::string EncodeResponse(const Response& r) {
  std::string out;
  uint16_t flags = 0x8000 | (r.query.flags & 0x7800) | (r.authoritative ? 0x0400 : 0) |
                   (r.query.flags & 0x0100) | 0x0080 | (static_cast<uint16_t>(r.rcode) & 0xF);
  size_t answers = r.question ? std::min<size_t>(r.addresses.size(), 0xFFFF) : 0;
  Put16(&out, r.query.id);
  Put16(&out, flags);
  Put16(&out, r.question ? 1 : 0);
  Put16(&out, static_cast<uint16_t>(answers));
  Put16(&out, 0);
  Put16(&out, 0);
  if (!r.question) return out;
  // A hand-made question without a wire name is written as the root rather than garbage.
  out += r.question->wire_name.empty() ? std::string(1, '\0') : r.question->wire_name;
  Put16(&out, r.question->type);
  Put16(&out, r.question->qclass);
  for (size_t i = 0; i < answers; ++i) {
    Put16(&out, 0xC000 | kHeaderSize);  // the question's name
    Put16(&out, kTypeA);
    Put16(&out, kClassIn);
    Put32(&out, r.ttl);
    Put16(&out, 4);
    Put32(&out, r.addresses[i]);
  }
  return out;
}

Result<std::string> EncodeQuery(uint16_t id, const std::string& name, uint16_t type,
                                bool recursion_desired) {
  std::string wire;
  std::string n = !name.empty() && name.back() == '.' ? name.substr(0, name.size() - 1) : name;
  size_t start = 0;
  while (!n.empty() && start <= n.size()) {
    size_t dot = n.find('.', start);
    if (dot == std::string::npos) dot = n.size();
    size_t label = dot - start;
    if (label == 0 || label > 63)
      return Status::Invalid("\"" + name + "\": labels are 1 to 63 bytes long");
    wire.push_back(static_cast<char>(label));
    wire.append(n, start, label);
    start = dot + 1;
  }
  wire.push_back('\0');
  if (wire.size() > kMaxNameWire)
    return Status::Invalid("\"" + name + "\" is longer than 255 bytes on the wire");
  std::string out;
  Put16(&out, id);
  Put16(&out, recursion_desired ? 0x0100 : 0);
  Put16(&out, 1);
  Put16(&out, 0);
  Put16(&out, 0);
  Put16(&out, 0);
  out += wire;
  Put16(&out, type);
  Put16(&out, kClassIn);
  return out;
}

}  // namespace tug::agent::dns
