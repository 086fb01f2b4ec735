// SPDX-License-Identifier: Apache-2.0
#include "gpuvalidator.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "kbinder/sdk/args.h"
#include "kbinder/sdk/quantity.h"

namespace kbinder::plugins::gpuvalidator {
namespace {

using kbinder::v1::BindRequest;
using kbinder::v1::Pod;

bool positiveInteger(const std::string& text, int64_t* out) {
  if (text.empty() || text.size() > 15 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  *out = std::strtoll(text.c_str(), nullptr, 10);
  return *out > 0;
}

// A fraction is written as a decimal quantity: digits with a decimal point, or an exponent.
std::optional<double> parseFraction(const std::string& text) {
  if (!sdk::Quantity::parse(text)) return std::nullopt;
  const bool decimal_form = text.find_first_of(".eE") != std::string::npos &&
                            text.find_first_not_of("0123456789.eE+-") == std::string::npos;
  if (!decimal_form) return std::nullopt;
  const double v = std::strtod(text.c_str(), nullptr);
  if (!(v > 0.0 && v < 1.0)) return std::nullopt;
  return v;
}

std::string quoted(const std::string& s) {
  return "\"" + s + "\"";
}

// What the pod asks for, read from its annotations and limits, with every problem found.
struct PodGpuRequest {
  std::optional<std::string> fraction_text, memory_text, devices_text;
  std::optional<double> fraction;
  int64_t memory = 0;
  int64_t devices = 1;
  bool mps = false;
  int64_t whole = 0;                  // effective whole-GPU count
  std::string first_whole_container;  // a container with a whole-GPU limit, for messages
  std::vector<std::string> problems;

  bool fractional() const { return fraction_text.has_value() || memory_text.has_value(); }
};

PodGpuRequest readRequest(const Pod& pod, const std::string& resource) {
  PodGpuRequest r;
  const auto& annotations = pod.metadata().annotations();
  auto annotation = [&](const char* key) -> std::optional<std::string> {
    const auto it = annotations.find(key);
    if (it == annotations.end()) return std::nullopt;
    return it->second;
  };
  r.fraction_text = annotation(kFractionAnnotation);
  r.memory_text = annotation(kMemoryAnnotation);
  r.devices_text = annotation(kDevicesAnnotation);
  r.mps = annotation(kMpsAnnotation) == std::optional<std::string>("true");

  if (r.fraction_text) {
    r.fraction = parseFraction(*r.fraction_text);
    if (!r.fraction) {
      r.problems.push_back(std::string("annotation ") + kFractionAnnotation +
                           " must be a decimal number strictly between 0 and 1, such as \"0.5\"; "
                           "got " +
                           quoted(*r.fraction_text));
    }
  }
  if (r.memory_text && !positiveInteger(*r.memory_text, &r.memory)) {
    r.problems.push_back(std::string("annotation ") + kMemoryAnnotation +
                         " must be a positive integer (MiB of GPU memory); got " +
                         quoted(*r.memory_text));
  }
  if (r.devices_text && !positiveInteger(*r.devices_text, &r.devices)) {
    r.problems.push_back(std::string("annotation ") + kDevicesAnnotation +
                         " must be a positive integer; got " + quoted(*r.devices_text));
    r.devices = 1;
  }

  int64_t app_sum = 0, init_max = 0;
  auto readLimits = [&](const auto& containers, bool init) {
    for (const auto& c : containers) {
      const auto it = c.resources().limits().find(resource);
      if (it == c.resources().limits().end()) continue;
      if (r.first_whole_container.empty()) r.first_whole_container = c.name();
      const auto q = sdk::Quantity::parse(it->second);
      const auto milli = q ? q->milliValue() : std::nullopt;
      if (!milli || q->isNegative() || *milli % 1000 != 0) {
        r.problems.push_back(std::string(init ? "init container " : "container ") +
                             quoted(c.name()) + ": limit " + resource +
                             " must be a whole number of GPUs; got " + quoted(it->second));
        continue;
      }
      const int64_t n = *milli / 1000;
      if (init) {
        init_max = std::max(init_max, n);
      } else {
        app_sum += n;
      }
    }
  };
  readLimits(pod.spec().init_containers(), true);
  readLimits(pod.spec().containers(), false);
  r.whole = std::max(app_sum, init_max);
  const bool any_whole_limit = !r.first_whole_container.empty();
  const std::string whole_where =
      "a " + resource + " limit (container " + quoted(r.first_whole_container) + ")";

  if (r.mps && !r.fractional()) {
    r.problems.push_back(std::string("annotation ") + kMpsAnnotation +
                         ": \"true\" needs a fractional GPU request (" + kFractionAnnotation +
                         " or " + kMemoryAnnotation + ")");
  }
  if (r.fraction_text && any_whole_limit) {
    r.problems.push_back(std::string("annotation ") + kFractionAnnotation +
                         " cannot be combined with " + whole_where);
  }
  if (r.memory_text && r.fraction_text) {
    r.problems.push_back(std::string("annotation ") + kMemoryAnnotation +
                         " cannot be combined with " + kFractionAnnotation + "; ask for one");
  }
  if (r.memory_text && any_whole_limit) {
    r.problems.push_back(std::string("annotation ") + kMemoryAnnotation +
                         " cannot be combined with " + whole_where);
  }
  if (r.devices_text && !r.fractional()) {
    r.problems.push_back(std::string("annotation ") + kDevicesAnnotation + " needs " +
                         kFractionAnnotation + " or " + kMemoryAnnotation);
  }
  return r;
}

std::string receivedType(const BindRequest& request) {
  return request.spec().received_resource_type().empty() ? "Regular"
                                                         : request.spec().received_resource_type();
}

}  // namespace

Config parseConfig(const kbinder::v1::PluginConfig& config) {
  sdk::Args args(config);
  Config parsed;
  parsed.gpu_resource_name = args.string("gpu_resource_name", parsed.gpu_resource_name);
  if (parsed.gpu_resource_name.empty() || parsed.gpu_resource_name.find('/') == std::string::npos) {
    throw sdk::ConfigError(
        "argument 'gpu_resource_name' must be an extended resource name such as "
        "\"nvidia.com/gpu\", got \"" +
        parsed.gpu_resource_name + "\"");
  }
  args.finish();
  return parsed;
}

std::vector<std::string> GpuValidator::validate(const Pod& pod, const BindRequest& request) const {
  PodGpuRequest r = readRequest(pod, config_.gpu_resource_name);
  std::vector<std::string> problems = std::move(r.problems);
  const auto& spec = request.spec();
  const std::string type = receivedType(request);
  if (type != "Regular" && type != "Fraction") {
    problems.push_back(R"(BindRequest receivedResourceType must be "Regular" or "Fraction"; got )" +
                       quoted(type));
    return problems;
  }
  if (r.fractional() && type != "Fraction") {
    problems.push_back("BindRequest receivedResourceType is " + quoted(type) +
                       " but the pod asks for a GPU fraction; the scheduler must grant a Fraction");
    return problems;
  }
  if (!r.fractional() && type == "Fraction") {
    problems.push_back(
        "BindRequest receivedResourceType is \"Fraction\" but the pod asks for no "
        "GPU fraction (no " +
        std::string(kFractionAnnotation) + " or " + kMemoryAnnotation + " annotation)");
    return problems;
  }
  if (type == "Fraction") {
    if (r.fraction) {
      const std::string& portion = spec.received_gpu().portion();
      char* end = nullptr;
      const double granted = std::strtod(portion.c_str(), &end);
      if (portion.empty() || end == nullptr || *end != '\0') {
        problems.push_back("BindRequest receivedGPU.portion must be a decimal number; got " +
                           quoted(portion));
      } else if (std::llround(granted * 100) != std::llround(*r.fraction * 100)) {
        problems.push_back("BindRequest receivedGPU.portion " + quoted(portion) +
                           " does not match the pod's " + kFractionAnnotation + " " +
                           quoted(*r.fraction_text));
      }
    }
    if (spec.received_gpu().count() != r.devices) {
      problems.push_back("BindRequest receivedGPU.count " +
                         std::to_string(spec.received_gpu().count()) + " does not match the " +
                         std::to_string(r.devices) + " fractional device(s) the pod asks for (" +
                         kDevicesAnnotation + ")");
    }
    if (spec.selected_gpu_groups_size() != r.devices) {
      problems.push_back("BindRequest selectedGPUGroups has " +
                         std::to_string(spec.selected_gpu_groups_size()) + " group(s) for the " +
                         std::to_string(r.devices) + " fractional device(s) the pod asks for");
    }
  } else if (spec.received_gpu().count() != r.whole) {
    problems.push_back("BindRequest receivedGPU.count " +
                       std::to_string(spec.received_gpu().count()) + " does not match the pod's " +
                       config_.gpu_resource_name + " limits (" + std::to_string(r.whole) + ")");
  }
  return problems;
}

kbinder::v1::MutateResult GpuValidator::mutate(const Pod& pod, const BindRequest& request) const {
  kbinder::v1::MutateResult result;
  const std::string type = receivedType(request);
  (*result.mutable_set_annotations())[kReceivedTypeAnnotation] = type;
  std::vector<std::string> keep;
  if (type == "Fraction") {
    const auto& groups = request.spec().selected_gpu_groups();
    if (groups.size() == 1) {
      (*result.mutable_set_labels())[kGpuGroupLabel] = groups[0];
      keep.emplace_back(kGpuGroupLabel);
    } else {
      for (const auto& group : groups) {
        const std::string key = kMultiGpuGroupLabelPrefix + group;
        (*result.mutable_set_labels())[key] = group;
        keep.push_back(key);
      }
    }
  }
  // Group labels from an earlier, different grant would point GPU sharing at the wrong devices.
  for (const auto& [key, value] : pod.metadata().labels()) {
    const bool group_label = key == kGpuGroupLabel || key.rfind(kMultiGpuGroupLabelPrefix, 0) == 0;
    if (group_label && std::find(keep.begin(), keep.end(), key) == keep.end()) {
      result.add_remove_labels(key);
    }
  }
  return result;
}

bool GpuValidator::grantsGpus(const BindRequest& request) {
  return request.spec().received_gpu().count() > 0;
}

std::optional<std::string> GpuValidator::checkNode(const BindRequest& request,
                                                   const kbinder::v1::Node& node) const {
  if (!grantsGpus(request)) return std::nullopt;
  const int64_t granted = request.spec().received_gpu().count();
  int64_t allocatable = 0;
  const auto& map = node.status().allocatable();
  if (const auto it = map.find(config_.gpu_resource_name); it != map.end()) {
    const auto q = sdk::Quantity::parse(it->second);
    const auto v = q ? q->value() : std::nullopt;
    allocatable = v ? *v : 0;
  }
  if (granted <= allocatable) return std::nullopt;
  return "node " + node.metadata().name() + " has " + std::to_string(allocatable) + " " +
         config_.gpu_resource_name + " allocatable, fewer than the " + std::to_string(granted) +
         " granted";
}

}  // namespace kbinder::plugins::gpuvalidator
