// SPDX-License-Identifier: Apache-2.0
/* abi.h compiles as strict C11 and its layout rules hold. */
#include <kbinder/abi.h>

_Static_assert(offsetof(kbinder_plugin_descriptor, struct_size) == 0, "size comes first");
_Static_assert(offsetof(kbinder_plugin_descriptor, struct_version) == 4, "then the version");
_Static_assert(offsetof(kbinder_host_services, struct_size) == 0, "size comes first");
_Static_assert(offsetof(kbinder_cycle, struct_size) == 0, "size comes first");
_Static_assert(KBINDER_PLUGIN_DESCRIPTOR_SIZE_V1_0 < sizeof(kbinder_plugin_descriptor),
               "1.1 appended to the 1.0 descriptor");
_Static_assert(KBINDER_ABI_VERSION_GET_MAJOR(KBINDER_ABI_VERSION) == KBINDER_ABI_VERSION_MAJOR,
               "version packing");
_Static_assert(KBINDER_ABI_VERSION_GET_MINOR(KBINDER_ABI_VERSION) == KBINDER_ABI_VERSION_MINOR,
               "version packing");

int kbinder_abi_header_c11_check(void) {
  return KBINDER_STATUS_SUCCESS;
}
