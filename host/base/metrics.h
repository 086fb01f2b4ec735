// SPDX-License-Identifier: Apache-2.0
// The binder's metrics: what the controller and the framework record (MetricsRecorder), and
// Metrics, which keeps them for the Prometheus text format (/metrics of `kbinder serve`).
//
// One recorder per process, handed to the controller and framework that record into it (no
// global registry); a load generator may hand its own, to keep what it measures exactly.
// Counters and histograms carry labels; gauges are read when rendered.
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

// What the binder records as it works. Called from the controller's workers, concurrently.
class MetricsRecorder {
 public:
  virtual ~MetricsRecorder() = default;
  // A request reached a final phase ("Succeeded", "Failed").
  virtual void requestFinished(const std::string& phase) = 0;
  // One binding cycle ended with this outcome ("Succeeded", "Retry", "Failed"), after `duration`.
  virtual void attempt(const std::string& outcome, std::chrono::nanoseconds duration) = 0;
  // One plugin hook call, which took `duration` (with the host services it called).
  virtual void pluginCall(const std::string& plugin, const std::string& point,
                          const std::string& status, std::chrono::nanoseconds duration) = 0;
};

class Metrics final : public MetricsRecorder {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;

  void requestFinished(const std::string& phase) override;
  void attempt(const std::string& outcome, std::chrono::nanoseconds duration) override;
  void pluginCall(const std::string& plugin, const std::string& point, const std::string& status,
                  std::chrono::nanoseconds duration) override;

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
