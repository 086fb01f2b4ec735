// SPDX-License-Identifier: Apache-2.0
// Kubernetes resource quantities ("500m", "1.5Gi", "2e3"): the one parser the host and plugins
// share, header-only so a plugin built against abi/ alone can use it.
//
// Grammar (as the API server accepts it):
//   quantity := [+-] number suffix
//   number   := digits | digits "." digits? | "." digits
//   suffix   := "" | binarySI (Ki Mi Gi Ti Pi Ei) | decimalSI (n u m k M G T P E)
//             | ("e" | "E") [+-] digits
// Values are exact: a quantity is kept as integer digits times powers of two and ten, and
// converted with rounding up (as Kubernetes rounds a quantity's Value and MilliValue).
//
// Thread-safety: values; no shared state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kbinder::sdk {

class Quantity {
 public:
  // Parses `text`; on failure returns nullopt and, if `error` is given, says what is wrong.
  static std::optional<Quantity> parse(std::string_view text, std::string* error = nullptr) {
    auto fail = [&](const char* why) -> std::optional<Quantity> {
      if (error != nullptr) {
        *error = "\"" + std::string(text) + "\" is not a Kubernetes quantity: " + why;
      }
      return std::nullopt;
    };
    Quantity q;
    size_t i = 0;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) q.negative_ = text[i++] == '-';
    bool any_digit = false, dot = false;
    int significant = 0;
    for (; i < text.size(); ++i) {
      const char c = text[i];
      if (c == '.') {
        if (dot) return fail("two decimal points");
        dot = true;
        continue;
      }
      if (c < '0' || c > '9') break;
      any_digit = true;
      if (q.mantissa_ == 0 && c == '0') {
        if (dot) --q.decimal_exponent_;
        continue;
      }
      if (++significant > kMaxDigits) return fail("too many digits");
      q.mantissa_ = q.mantissa_ * 10 + (c - '0');
      if (dot) --q.decimal_exponent_;
    }
    if (!any_digit) return fail("no digits");
    const std::string_view suffix = text.substr(i);
    if (suffix.empty()) return q;
    static constexpr std::pair<std::string_view, int> kBinary[] = {
        {"Ki", 10}, {"Mi", 20}, {"Gi", 30}, {"Ti", 40}, {"Pi", 50}, {"Ei", 60}};
    for (const auto& [name, shift] : kBinary) {
      if (suffix == name) {
        q.binary_exponent_ = shift;
        return q;
      }
    }
    static constexpr std::pair<std::string_view, int> kDecimal[] = {
        {"n", -9}, {"u", -6}, {"m", -3}, {"k", 3}, {"M", 6},
        {"G", 9},  {"T", 12}, {"P", 15}, {"E", 18}};
    for (const auto& [name, exponent] : kDecimal) {
      if (suffix == name) {
        q.decimal_exponent_ += exponent;
        return q;
      }
    }
    if (suffix[0] == 'e' || suffix[0] == 'E') {  // "E" alone is exa, matched above
      size_t j = 1;
      bool minus = false;
      if (j < suffix.size() && (suffix[j] == '+' || suffix[j] == '-')) minus = suffix[j++] == '-';
      if (j == suffix.size()) return fail("exponent without digits");
      int exponent = 0;
      for (; j < suffix.size(); ++j) {
        if (suffix[j] < '0' || suffix[j] > '9') return fail("exponent is not an integer");
        exponent = exponent * 10 + (suffix[j] - '0');
        if (exponent > kMaxExponent) return fail("exponent out of range");
      }
      q.decimal_exponent_ += minus ? -exponent : exponent;
      return q;
    }
    return fail("unknown suffix (use Ki, Mi, Gi, Ti, Pi, Ei, n, u, m, k, M, G, T, P, E or eN)");
  }

  // The quantity times 10^scale, rounded up (towards +infinity); nullopt if it does not fit
  // in int64. value() is scaled(0) (bytes, GPUs); milliValue() is scaled(3) (millicores).
  std::optional<int64_t> scaled(int scale) const {
    using Wide = __int128;
    const Wide limit = static_cast<Wide>(INT64_MAX);
    Wide v = static_cast<Wide>(mantissa_);  // parsing keeps it under 10^19
    for (int b = 0; b < binary_exponent_; ++b) {
      v *= 2;
      if (v > limit * 1000) return std::nullopt;
    }
    int exponent = decimal_exponent_ + scale;
    for (; exponent > 0; --exponent) {
      v *= 10;
      if (v > limit * 1000) return std::nullopt;
    }
    bool remainder = false;
    for (; exponent < 0 && v != 0; ++exponent) {
      remainder = remainder || v % 10 != 0;
      v /= 10;
    }
    // Digits that ran out before the exponent did were all fraction; dropping them set remainder.
    if (negative_) {
      v = -v;  // rounding up a negative number drops the fraction
    } else if (remainder) {
      v += 1;
    }
    if (v > limit || v < -limit - 1) return std::nullopt;
    return static_cast<int64_t>(v);
  }
  std::optional<int64_t> value() const { return scaled(0); }
  std::optional<int64_t> milliValue() const { return scaled(3); }

  bool isZero() const { return mantissa_ == 0; }
  bool isNegative() const { return negative_ && mantissa_ != 0; }

 private:
  static constexpr int kMaxDigits = 30;      // fits an unsigned 128-bit mantissa with room
  static constexpr int kMaxExponent = 1000;  // far past anything representable

  unsigned __int128 mantissa_ = 0;  // the significant digits, as an integer
  int decimal_exponent_ = 0;        // times 10^decimal_exponent_
  int binary_exponent_ = 0;         // times 2^binary_exponent_
  bool negative_ = false;
};

}  // namespace kbinder::sdk
