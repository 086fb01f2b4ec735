// SPDX-License-Identifier: Apache-2.0
// Metrics in the Prometheus text format.
#include "host/base/metrics.h"

#include <gtest/gtest.h>

namespace kbinder::host {
namespace {

TEST(MetricsTest, RendersCountersHistogramsAndReadGauges) {
  Metrics metrics;
  metrics.requestFinished("Succeeded");
  metrics.requestFinished("Succeeded");
  metrics.attempt("Succeeded", std::chrono::milliseconds(30));
  metrics.pluginCall("dra", "pre_bind", "Success", std::chrono::milliseconds(3));
  metrics.pluginCall("dra", "pre_bind", "Success", std::chrono::seconds(2));
  metrics.addGauge("kbinder_queue_depth", "Requests waiting.", [] {
    return std::vector<std::pair<Metrics::Labels, double>>{{{}, 4}};
  });
  metrics.addCounter("kbinder_api_requests_total", "API requests.", [] {
    return std::vector<std::pair<Metrics::Labels, double>>{{{{"verb", "GET"}, {"code", "200"}}, 7}};
  });
  const std::string text = metrics.render();
  auto has = [&](const std::string& line) {
    EXPECT_NE(text.find(line + "\n"), std::string::npos) << line << "\nin:\n" << text;
  };
  has("# TYPE kbinder_requests_total counter");
  has("kbinder_requests_total{phase=\"Succeeded\"} 2");
  has("# TYPE kbinder_plugin_duration_seconds histogram");
  has("kbinder_plugin_duration_seconds_bucket{plugin=\"dra\",extension_point=\"pre_bind\",status="
      "\"Success\",le=\"0.005\"} 1");
  has("kbinder_plugin_duration_seconds_bucket{plugin=\"dra\",extension_point=\"pre_bind\",status="
      "\"Success\",le=\"2.5\"} 2");
  has("kbinder_plugin_duration_seconds_bucket{plugin=\"dra\",extension_point=\"pre_bind\",status="
      "\"Success\",le=\"+Inf\"} 2");
  has("kbinder_plugin_duration_seconds_count{plugin=\"dra\",extension_point=\"pre_bind\",status="
      "\"Success\"} 2");
  has("kbinder_binding_duration_seconds_count{outcome=\"Succeeded\"} 1");
  has("# TYPE kbinder_queue_depth gauge");
  has("kbinder_queue_depth 4");
  has("kbinder_api_requests_total{verb=\"GET\",code=\"200\"} 7");
}

}  // namespace
}  // namespace kbinder::host
