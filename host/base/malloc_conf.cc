// SPDX-License-Identifier: Apache-2.0
// jemalloc's options for every kbinder program linked with it (CMake's kbinder_allocator
// compiles this file into each one): jemalloc reads this global at start, and the
// MALLOC_CONF environment variable still overrides it.
//
// dirty_decay_ms: freed pages go back to the system after about a second instead of ten. A
// binder frees as fast as it allocates (every write supersedes a version of an object), so
// with the default the pages freed during a burst stay resident (measured: bench/HISTORY.md).
extern "C" {
__attribute__((visibility("default"))) const char* malloc_conf = "dirty_decay_ms:1000";
}
