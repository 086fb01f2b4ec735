// SPDX-License-Identifier: Apache-2.0
/* A plugin whose every hook does nothing and succeeds (bind skips): what the ABI costs when the
 * plugin itself costs nothing. Built once per name (PLUGIN_NAME) so a profile can hold several. */
#include <kbinder/abi.h>
#include <stddef.h>

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "noop"
#endif

static kbinder_status_t create(kbinder_call* call, kbinder_bytes config, void** instance_out) {
  (void)call;
  (void)config;
  *instance_out = NULL;
  return KBINDER_STATUS_SUCCESS;
}
static void destroy(void* instance) {
  (void)instance;
}
static kbinder_status_t ok(void* instance, kbinder_call* call, const kbinder_cycle* cycle,
                           void** state) {
  (void)instance;
  (void)call;
  (void)cycle;
  (void)state;
  return KBINDER_STATUS_SUCCESS;
}
static kbinder_status_t skip(void* instance, kbinder_call* call, const kbinder_cycle* cycle,
                             void** state) {
  (void)instance;
  (void)call;
  (void)cycle;
  (void)state;
  return KBINDER_STATUS_SKIP;
}

static const kbinder_plugin_descriptor kDescriptor = {sizeof(kbinder_plugin_descriptor),
                                                      KBINDER_ABI_VERSION,
                                                      PLUGIN_NAME,
                                                      "1.0.0",
                                                      KBINDER_CONCURRENCY_CONCURRENT,
                                                      0,
                                                      create,
                                                      destroy,
                                                      NULL,
                                                      ok,
                                                      ok,
                                                      ok,
                                                      ok,
                                                      ok,
                                                      ok,
                                                      skip,
                                                      ok,
                                                      "Does nothing (benchmarks)"};

KBINDER_EXPORT const kbinder_plugin_descriptor* kbinder_plugin_v1(const kbinder_host_services* host,
                                                                  const char** error_out) {
  (void)host;
  (void)error_out;
  return &kDescriptor;
}
