// SPDX-License-Identifier: Apache-2.0
#include "host/base/metrics.h"

#include <charconv>
#include <cstdio>
#include <sstream>

namespace kbinder::host {
namespace {

// Seconds: from a fast hook (1 ms) to a PreBind that waits minutes for volumes.
constexpr double kBounds[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                              1,     2.5,   5,    10,    30,   60,  300,  600};

std::string escape(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string labelText(const Metrics::Labels& labels, const std::string& extra = "") {
  std::string out;
  for (const auto& [k, v] : labels) out += (out.empty() ? "" : ",") + k + "=\"" + escape(v) + "\"";
  if (!extra.empty()) out += (out.empty() ? "" : ",") + extra;
  return out.empty() ? "" : "{" + out + "}";
}

// The shortest text that reads back as `v` ("0.005", not "0.0050000000000000001").
std::string number(double v) {
  char text[64];
  const auto result = std::to_chars(text, text + sizeof text, v);
  return std::string(text, result.ptr);
}

}  // namespace

void Metrics::observe(std::map<Labels, Histogram>& into, const Labels& labels, double seconds) {
  Histogram& h = into[labels];
  if (h.buckets.empty()) h.buckets.assign(std::size(kBounds) + 1, 0);
  size_t i = 0;
  while (i < std::size(kBounds) && seconds > kBounds[i]) ++i;
  ++h.buckets[i];
  h.sum += seconds;
  ++h.count;
}

void Metrics::requestFinished(const std::string& phase) {
  std::lock_guard lock(mutex_);
  requests_[{{"phase", phase}}] += 1;
}

void Metrics::attempt(const std::string& outcome, std::chrono::nanoseconds duration) {
  std::lock_guard lock(mutex_);
  attempts_[{{"outcome", outcome}}] += 1;
  observe(binding_, {{"outcome", outcome}}, std::chrono::duration<double>(duration).count());
}

void Metrics::pluginCall(const std::string& plugin, const std::string& point,
                         const std::string& status, std::chrono::nanoseconds duration) {
  std::lock_guard lock(mutex_);
  observe(plugins_, {{"plugin", plugin}, {"extension_point", point}, {"status", status}},
          std::chrono::duration<double>(duration).count());
}

void Metrics::addGauge(const std::string& name, const std::string& help, Reader reader) {
  std::lock_guard lock(mutex_);
  read_[name] = Family{help, "gauge", std::move(reader)};
}

void Metrics::addCounter(const std::string& name, const std::string& help, Reader reader) {
  std::lock_guard lock(mutex_);
  read_[name] = Family{help, "counter", std::move(reader)};
}

std::string Metrics::render() const {
  std::ostringstream out;
  auto counters = [&](const char* name, const char* help, const std::map<Labels, double>& values) {
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " counter\n";
    for (const auto& [labels, v] : values)
      out << name << labelText(labels) << " " << number(v) << "\n";
  };
  auto histograms = [&](const char* name, const char* help,
                        const std::map<Labels, Histogram>& values) {
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " histogram\n";
    for (const auto& [labels, h] : values) {
      uint64_t cumulative = 0;
      for (size_t i = 0; i < h.buckets.size(); ++i) {
        cumulative += h.buckets[i];
        const std::string le = i < std::size(kBounds) ? number(kBounds[i]) : "+Inf";
        out << name << "_bucket" << labelText(labels, "le=\"" + le + "\"") << " " << cumulative
            << "\n";
      }
      out << name << "_sum" << labelText(labels) << " " << number(h.sum) << "\n";
      out << name << "_count" << labelText(labels) << " " << h.count << "\n";
    }
  };
  std::map<std::string, Family> read;
  {
    std::lock_guard lock(mutex_);
    counters("kbinder_requests_total", "BindRequests that reached a final phase.", requests_);
    counters("kbinder_attempts_total", "Binding cycles run, by outcome.", attempts_);
    histograms("kbinder_binding_duration_seconds", "Duration of one binding cycle.", binding_);
    histograms("kbinder_plugin_duration_seconds",
               "Duration of plugin hook calls, by plugin, extension point and status.", plugins_);
    read = read_;
  }
  for (const auto& [name, family] : read) {
    out << "# HELP " << name << " " << family.help << "\n# TYPE " << name << " " << family.type
        << "\n";
    for (const auto& [labels, v] : family.reader())
      out << name << labelText(labels) << " " << number(v) << "\n";
  }
  return out.str();
}

}  // namespace kbinder::host
