#include "api/quantity.h"

#include <cctype>
#include <limits>
#include <utility>
#include <vector>

namespace tug::api {

namespace {

const std::string kForms = " (examples: 500m, 2, 0.5, 128Mi, 1Gi, 1G, 1e3)";

// Multiplies with an overflow check.
bool Mul(int64_t a, int64_t b, int64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

}  // namespace

Result<Quantity> Quantity::Parse(const std::string& in) {
  if (in.empty()) return Status::Invalid("quantity is empty" + kForms);
  size_t i = 0;
  bool neg = false;
  if (in[i] == '+' || in[i] == '-') {
    neg = in[i] == '-';
    ++i;
  }
  // Digits with an optional fraction.
  int64_t whole = 0;
  int64_t frac = 0;
  int frac_digits = 0;
  size_t digits = 0;
  for (; i < in.size() && std::isdigit(static_cast<unsigned char>(in[i])); ++i, ++digits) {
    if (!Mul(whole, 10, &whole) || __builtin_add_overflow(whole, in[i] - '0', &whole)) {
      return Status::Invalid("quantity \"" + in + "\" is too large");
    }
  }
  if (i < in.size() && in[i] == '.') {
    ++i;
    for (; i < in.size() && std::isdigit(static_cast<unsigned char>(in[i])); ++i, ++digits) {
      if (frac_digits < 9) {
        frac = frac * 10 + (in[i] - '0');
        ++frac_digits;
      }
    }
  }
  if (digits == 0) return Status::Invalid("quantity \"" + in + "\" has no number" + kForms);
  std::string suffix = in.substr(i);

  // value = (whole + frac/10^frac_digits) * multiplier, in milli-units; work in nano-units of
  // the fraction to stay exact.
  struct Unit {
    const char* name;
    int64_t num;  // milli-units per unit
  };
  static const std::vector<Unit> units = {
      {"", 1000},
      {"m", 1},
      {"k", 1000LL * 1000},
      {"M", 1000LL * 1000 * 1000},
      {"G", 1000LL * 1000 * 1000 * 1000},
      {"T", 1000LL * 1000 * 1000 * 1000 * 1000},
      {"P", 1000LL * 1000 * 1000 * 1000 * 1000 * 1000},
      {"Ki", 1000LL << 10},
      {"Mi", 1000LL << 20},
      {"Gi", 1000LL << 30},
      {"Ti", 1000LL << 40},
      {"Pi", 1000LL << 50},
  };
  int64_t mult = -1;
  if (!suffix.empty() && (suffix[0] == 'e' || suffix[0] == 'E') && suffix.size() > 1) {
    // Decimal exponent: 1e3 = 1000.
    int exp = 0;
    for (size_t k = 1; k < suffix.size(); ++k) {
      if (!std::isdigit(static_cast<unsigned char>(suffix[k])) || exp > 18) {
        return Status::Invalid("quantity \"" + in + "\" has a bad exponent" + kForms);
      }
      exp = exp * 10 + (suffix[k] - '0');
    }
    mult = 1000;
    for (int k = 0; k < exp; ++k) {
      if (!Mul(mult, 10, &mult)) return Status::Invalid("quantity \"" + in + "\" is too large");
    }
  } else {
    for (const auto& u : units) {
      if (suffix == u.name) mult = u.num;
    }
  }
  if (mult < 0) {
    return Status::Invalid("quantity \"" + in + "\" has an unknown unit \"" + suffix + "\"" +
                           kForms);
  }
  int64_t milli = 0;
  if (!Mul(whole, mult, &milli)) return Status::Invalid("quantity \"" + in + "\" is too large");
  if (frac_digits > 0) {
    // frac/10^d * mult, rounded up to a milli-unit, as Kubernetes rounds up.
    int64_t pow = 1;
    for (int k = 0; k < frac_digits; ++k)
      pow *= 10;
    // frac < 10^9 and mult < 2^63: the product needs 128 bits (a GCC extension).
    __extension__ using Wide = __int128;
    Wide part = static_cast<Wide>(frac) * mult;
    int64_t add = static_cast<int64_t>((part + pow - 1) / pow);
    if (__builtin_add_overflow(milli, add, &milli))
      return Status::Invalid("quantity \"" + in + "\" is too large");
  }
  return Quantity::FromMilli(neg ? -milli : milli);
}

}  // namespace tug::api
