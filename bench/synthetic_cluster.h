// SPDX-License-Identifier: Apache-2.0
// A synthetic cluster for the load generator: N nodes and M pods, each pod with a BindRequest
// placing it as a scheduler would, so that every request can succeed.
//
// Nodes: one in ten is a GPU node (8 GPUs, tainted nvidia.com/gpu:NoSchedule); the rest are CPU
// nodes. Pods, by their index modulo 100:
//   0-3    a claim in a WaitForFirstConsumer class with a provisioner (provisioned on the node)
//   4-5    a claim in a local class, bound to a pre-created local volume on the selected node
//   6-9    a dynamic resource claim (a NIC), allocated by the scheduler to the selected node
//   10-13  a fractional GPU (gpu-fraction 0.5) with its GPU group
//   14-17  one whole GPU
//   18-99  a plain pod
// GPU pods go round-robin over the GPU nodes, the others over the CPU nodes.
#pragma once

#include <cstddef>

#include "host/model/manifest.h"

namespace kbinder::bench {

struct ClusterShape {
  size_t nodes = 5000;
  size_t pods = 50000;
  size_t namespaces = 50;
};

// Counts of each kind of pod generated.
struct PodMix {
  size_t plain = 0, provisioned = 0, local_volume = 0, resource_claim = 0, fractional_gpu = 0,
         whole_gpu = 0;
};

// Returns an empty manifest for fewer than 2 nodes (one CPU and one GPU node) or no namespaces.
host::Manifest syntheticCluster(const ClusterShape& shape, PodMix* mix);

}  // namespace kbinder::bench
