// SPDX-License-Identifier: Apache-2.0
// The binder's metrics, rendered in the Prometheus text format (/metrics of `kbinder serve`).
//
// One Metrics object per process, handed to the controller and framework that record into it
// (no global registry). Counters and histograms carry labels; gauges are read when rendered.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace kbinder::host {

class Metrics {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;

  // A request reached a final phase ("Succeeded", "Failed").
  void requestFinished(const std::string& phase);
  // One binding cycle ended with this outcome ("Succeeded", "Retry", "Failed"), after `duration`.
  void attempt(const std::string& outcome, std::chrono::nanoseconds duration);
  // One plugin hook call.
  void pluginCall(const std::string& plugin, const std::string& point, const std::string& status,
                  std::chrono::nanoseconds duration);

  // Gauges and counters owned elsewhere, read at render time: each returns (labels, value) rows.
  using Reader = std::function<std::vector<std::pair<Labels, double>>()>;
  void addGauge(const std::string& name, const std::string& help, Reader reader);
  void addCounter(const std::string& name, const std::string& help, Reader reader);

  std::string render() const;

 private:
  struct Histogram {
    std::vector<uint64_t> buckets;  // counts per upper bound in kBounds, then +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  struct Family {
    std::string help, type;
    Reader reader;
  };

  void observe(std::map<Labels, Histogram>& into, const Labels& labels, double seconds);

  mutable std::mutex mutex_;
  std::map<Labels, double> requests_;
  std::map<Labels, double> attempts_;
  std::map<Labels, Histogram> binding_;
  std::map<Labels, Histogram> plugins_;
  std::map<std::string, Family> read_;
};

}  // namespace kbinder::host
