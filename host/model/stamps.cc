// SPDX-License-Identifier: Apache-2.0
// What the API server stamps on a new object: uids and timestamps.
#include <algorithm>
#include <array>
#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <chrono>

#include "host/base/sha256.h"
#include "host/model/objects.h"

namespace kbinder::host {

std::string uidFromSeed(std::string_view seed) {
  // The first 16 bytes of the seed's SHA-256, written as a UUID.
  const std::array<uint8_t, 32> digest = sha256(seed);
  boost::uuids::uuid uid{};
  std::copy_n(digest.begin(), uid.size(), uid.begin());
  return boost::uuids::to_string(uid);
}

std::string randomUid() {
  // A version 4 (random) UUID, as the API server gives.
  thread_local boost::uuids::random_generator_mt19937 generate;
  return boost::uuids::to_string(generate());
}

std::string formatTimestamp(std::chrono::system_clock::time_point when, bool microseconds) {
  // Digits written by hand from the civil calendar: glibc's gmtime_r takes its time zone lock,
  // shared by every thread, on each call, and strftime walks its format (an Event and its
  // creationTimestamp are two calls a bind).
  namespace chrono = std::chrono;
  const auto micros = chrono::floor<chrono::microseconds>(when);
  const auto day = chrono::floor<chrono::days>(micros);
  const chrono::year_month_day date{day};
  const chrono::hh_mm_ss<chrono::microseconds> time{micros - day};
  char text[32];
  size_t n = 0;
  const auto put = [&](long long value, int digits) {
    for (int i = digits - 1; i >= 0; --i, value /= 10)
      text[n + i] = static_cast<char>('0' + value % 10);
    n += static_cast<size_t>(digits);
  };
  const auto mark = [&](char c) { text[n++] = c; };
  put(static_cast<int>(date.year()), 4);
  mark('-');
  put(static_cast<unsigned>(date.month()), 2);
  mark('-');
  put(static_cast<unsigned>(date.day()), 2);
  mark('T');
  put(time.hours().count(), 2);
  mark(':');
  put(time.minutes().count(), 2);
  mark(':');
  put(time.seconds().count(), 2);
  if (microseconds) {
    mark('.');
    put(time.subseconds().count(), 6);
  }
  mark('Z');
  return std::string(text, n);
}

std::string timestampNow(bool microseconds) {
  return formatTimestamp(std::chrono::system_clock::now(), microseconds);
}

}  // namespace kbinder::host
