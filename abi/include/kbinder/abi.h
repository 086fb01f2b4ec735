// SPDX-License-Identifier: Apache-2.0
/*
 * kbinder plugin ABI, major version 1.
 *
 * This header is the whole C contract between the kbinder host and a plugin shared object.
 * Together with the protobuf schema in abi/proto/kbinder/v1/ it is all a vendor needs to build a
 * plugin, with any compiler or language that can export a C symbol.
 *
 * Naming by role:
 *   kbinder_*_t / struct kbinder_*     types that cross the boundary
 *   kbinder_hook_*_fn                   functions the PLUGIN implements (listed in its descriptor)
 *   kbinder_host_services members       functions the HOST provides (handed to the entry symbol)
 *
 * Rules that hold for every declaration below (see abi/README.md for the compatibility policy):
 *   - Every struct begins with `struct_size` (sizeof as the producer compiled it) and
 *     `struct_version` (KBINDER_ABI_VERSION as the producer compiled it). Fields are only ever
 *     appended. A reader treats fields past `struct_size` as absent.
 *   - Only bytes cross: objects are serialized protobuf messages (pointer + length). Input is owned
 *     by the host and valid until the hook returns; output is handed over by calling a host
 *     service, which copies it. Nothing is ever freed on the other side of the boundary.
 *   - No C++ type, exception or allocator crosses. A plugin written in C++ catches everything in
 *     its hooks.
 *   - A NULL hook pointer means "not implemented"; the host never calls it.
 *
 * This file is pure C11 and uses nothing but standard headers.
 */
#ifndef KBINDER_ABI_H_
#define KBINDER_ABI_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* Versions                                                                                    */
/* ------------------------------------------------------------------------------------------ */

#define KBINDER_ABI_VERSION_MAJOR 1
#define KBINDER_ABI_VERSION_MINOR 3

/* A version packed into 32 bits: major in the high 16, minor in the low 16. */
#define KBINDER_ABI_MAKE_VERSION(major, minor) \
  ((uint32_t)(((uint32_t)(major) << 16) | ((uint32_t)(minor)&0xFFFFu)))
#define KBINDER_ABI_VERSION \
  KBINDER_ABI_MAKE_VERSION(KBINDER_ABI_VERSION_MAJOR, KBINDER_ABI_VERSION_MINOR)
#define KBINDER_ABI_VERSION_GET_MAJOR(v) ((uint32_t)(v) >> 16)
#define KBINDER_ABI_VERSION_GET_MINOR(v) ((uint32_t)(v)&0xFFFFu)

/* The one symbol a v1 plugin exports. A future major exports kbinder_plugin_v2, and so on. */
#define KBINDER_PLUGIN_ENTRY_SYMBOL "kbinder_plugin_v1"

#if defined(_WIN32)
#define KBINDER_EXPORT __declspec(dllexport)
#else
#define KBINDER_EXPORT __attribute__((visibility("default")))
#endif

/* ------------------------------------------------------------------------------------------ */
/* Types                                                                                       */
/* ------------------------------------------------------------------------------------------ */

/* Status codes. Zero and positive values are the framework's statuses; negative values are
 * ABI-level faults, returned by host services or produced by the host when a plugin misbehaves. */
typedef int32_t kbinder_status_t;

enum {
  KBINDER_STATUS_SUCCESS = 0,
  KBINDER_STATUS_ERROR = 1,                          /* failed; the cycle may be retried */
  KBINDER_STATUS_UNSCHEDULABLE = 2,                  /* node cannot take the pod right now */
  KBINDER_STATUS_UNSCHEDULABLE_AND_UNRESOLVABLE = 3, /* retrying will not help */
  KBINDER_STATUS_WAIT = 4,                           /* permit only: wait for an allow */
  KBINDER_STATUS_SKIP = 5,                           /* bind only: "not mine" */

  KBINDER_STATUS_ABI_INVALID_ARGUMENT = -1,  /* a service was called with bad arguments */
  KBINDER_STATUS_ABI_BAD_MESSAGE = -2,       /* bytes do not decode as the expected message */
  KBINDER_STATUS_ABI_NOT_FOUND = -3,         /* the object does not exist */
  KBINDER_STATUS_ABI_CONFLICT = -4,          /* resourceVersion precondition failed */
  KBINDER_STATUS_ABI_DEADLINE_EXCEEDED = -5, /* the call's deadline passed */
  KBINDER_STATUS_ABI_CANCELLED = -6,         /* the call was cancelled */
  KBINDER_STATUS_ABI_UNAVAILABLE = -7,       /* service not available in this context or now */
  KBINDER_STATUS_ABI_INTERNAL = -8           /* unexpected failure inside the host or plugin */
};

/* Whether the host may call one plugin instance's hooks from several threads at once. */
typedef uint32_t kbinder_concurrency_t;
enum {
  /* The host never runs two calls into the same instance at the same time. */
  KBINDER_CONCURRENCY_SERIALIZED = 1,
  /* Hooks are thread-safe; any number of calls may run at once (different cycles). */
  KBINDER_CONCURRENCY_CONCURRENT = 2
};

/* Log levels, ordered; the host drops messages below its current level. */
typedef int32_t kbinder_log_level_t;
enum {
  KBINDER_LOG_TRACE = 0,
  KBINDER_LOG_DEBUG = 1,
  KBINDER_LOG_INFO = 2,
  KBINDER_LOG_WARN = 3,
  KBINDER_LOG_ERROR = 4,
  KBINDER_LOG_OFF = 5
};

/* A byte range.
 * OWNERSHIP: never transfers; whoever passes it keeps owning the memory.
 * LIFETIME: as stated at each use.  */
typedef struct kbinder_bytes {
  const uint8_t* data; /* may be NULL when size == 0 */
  size_t size;
} kbinder_bytes;

/* An opaque handle on one host->plugin call (create, or one hook invocation). Host services that
 * concern "the current call" (deadline, cancellation, result, message, log context) take it.
 * LIFETIME: valid only until the function it was passed to returns; never store it.
 * THREADING: may be used from the thread the call runs on, and from threads the plugin starts
 * for this call if they finish before the call returns. */
typedef struct kbinder_call kbinder_call;

/* What every hook receives about the cycle it runs in. The host encodes each object at most once
 * per cycle (the pod and the node are passed on as the cluster backend keeps them); decode only
 * what you need. The bytes are a valid encoding but not always the canonical one: a message may
 * come as several concatenated records, which decoding merges as the protobuf wire format
 * defines (a later scalar wins, repeated fields add up).
 * OWNERSHIP: host. LIFETIME: until the hook returns. THREADING: read-only, any thread. */
typedef struct kbinder_cycle {
  uint32_t struct_size;
  uint32_t struct_version;
  uint64_t cycle_id; /* unique per cycle within one host process */
  uint32_t attempt;  /* 1 for a request's first attempt */
  uint32_t reserved0;
  kbinder_bytes bind_request; /* kbinder.v1.BindRequest */
  kbinder_bytes pod;          /* kbinder.v1.Pod, as read at the start of the cycle; from
                                 reserve on, with Mutate's changes (written, or to be
                                 written with the Binding) */
  kbinder_bytes node;         /* kbinder.v1.Node, the selected node */
  /* Appended in later minors only. */
} kbinder_cycle;

/* ------------------------------------------------------------------------------------------ */
/* Host services (the host implements these; the plugin calls them)                             */
/* ------------------------------------------------------------------------------------------ */

/* The table the host hands to the entry symbol.
 * OWNERSHIP: host. LIFETIME: valid until the library is unloaded, which never happens while an
 * instance exists. THREADING: every service is thread-safe unless stated otherwise.
 * A plugin built against a newer minor checks `struct_size` before using a later member. */
typedef struct kbinder_host_services {
  uint32_t struct_size;
  uint32_t struct_version;

  /* Logging. Messages are attributed to the plugin (and to the cycle when `call` is a hook
   * call). `message` is UTF-8, not NUL-terminated; the host copies it.
   * `call` may be NULL outside a call (e.g. from a plugin's own background thread). */
  void (*log)(kbinder_call* call, kbinder_log_level_t level, const char* message, size_t size);
  /* The current level: skip formatting messages below it. */
  kbinder_log_level_t (*log_level)(kbinder_call* call);

  /* Clocks, in nanoseconds: wall clock since the Unix epoch, and a monotonic clock. */
  int64_t (*now_unix_nanos)(void);
  int64_t (*monotonic_nanos)(void);

  /* The current call's deadline on the monotonic clock (INT64_MAX when none), and whether the
   * call was cancelled (non-zero). A hook that runs past its deadline fails the cycle anyway;
   * long waits should poll these. */
  int64_t (*deadline_monotonic_nanos)(kbinder_call* call);
  int32_t (*cancelled)(kbinder_call* call);

  /* Cluster reads and writes. Requests and responses are protobuf messages:
   *   get_object:   kbinder.v1.GetRequest   -> kbinder.v1.Object
   *   list_objects: kbinder.v1.ListRequest  -> kbinder.v1.ObjectList
   *   patch_object: kbinder.v1.PatchRequest -> kbinder.v1.Object (the object as stored after)
   * patch_object takes the object as the plugin changed it; its metadata.resourceVersion is the
   * precondition, and the host sends only the difference from what the cluster holds.
   * Returns SUCCESS, ABI_NOT_FOUND, ABI_CONFLICT, ABI_BAD_MESSAGE, ABI_DEADLINE_EXCEEDED,
   * ABI_UNAVAILABLE or ABI_INTERNAL; on failure a message is available through last_error.
   * `response` OWNERSHIP: host. LIFETIME: until the current call returns (the host frees every
   * response of a call when the call ends). THREADING: the call's threads. */
  kbinder_status_t (*get_object)(kbinder_call* call, kbinder_bytes request,
                                 kbinder_bytes* response);
  kbinder_status_t (*list_objects)(kbinder_call* call, kbinder_bytes request,
                                   kbinder_bytes* response);
  kbinder_status_t (*patch_object)(kbinder_call* call, kbinder_bytes request,
                                   kbinder_bytes* response);

  /* Lets a pod waiting at Permit through on behalf of the named plugin (the pod goes on once
   * every plugin that asked it to wait has allowed it). Strings are UTF-8, not NUL-terminated,
   * copied by the host. Returns SUCCESS or ABI_NOT_FOUND when no such pod is waiting. */
  kbinder_status_t (*allow_waiting_pod)(kbinder_call* call, const char* pod_uid, size_t uid_size,
                                        const char* plugin_name, size_t name_size);

  /* The current hook's result bytes (the message each hook documents) and a human-readable
   * message explaining the status (shown to operators, recorded on the BindRequest).
   * Both copy their input; a later call replaces an earlier one. */
  kbinder_status_t (*set_result)(kbinder_call* call, const uint8_t* data, size_t size);
  kbinder_status_t (*set_message)(kbinder_call* call, const char* message, size_t size);

  /* The message explaining the last failed service call on this call, or an empty range.
   * OWNERSHIP: host. LIFETIME: until the next service call on `call` or the call's end. */
  kbinder_bytes (*last_error)(kbinder_call* call);
  /* Appended in later minors only. */
} kbinder_host_services;

/* ------------------------------------------------------------------------------------------ */
/* Hooks (the plugin implements these; the host calls them)                                    */
/* ------------------------------------------------------------------------------------------ */

/* Creates one instance from its configuration, a kbinder.v1.PluginConfig message (the profile's
 * arguments table, with 64-bit integers and datetimes exact). On failure return a non-SUCCESS
 * status and explain it with set_message(call, ...); the host reports it with the plugin's name.
 * `config` OWNERSHIP: host. LIFETIME: until create returns.
 * `*instance_out` OWNERSHIP: plugin, released only by destroy. */
typedef kbinder_status_t (*kbinder_hook_create_fn)(kbinder_call* call, kbinder_bytes config,
                                                   void** instance_out);

/* Destroys an instance. Called exactly once per successful create, after every other call into
 * the instance returned and before the library is unloaded. */
typedef void (*kbinder_hook_destroy_fn)(void* instance);

/* Every extension point has this shape.
 * `instance`: what create returned.
 * `cycle`: the cycle's objects (see kbinder_cycle).
 * `cycle_state`: the plugin's per-cycle slot. It is NULL at the cycle's first hook; the plugin may
 *   store a pointer there, and it is handed back unchanged to every later hook of the same cycle.
 *   OWNERSHIP: plugin. When the cycle ends (success or failure, after the last hook) the host
 *   calls release_cycle_state exactly once if the slot is non-NULL.
 * Return a framework status (>= 0). Results per hook:
 *   validate:  SUCCESS, or UNSCHEDULABLE_AND_UNRESOLVABLE with a message; may set a
 *              kbinder.v1.ValidateResult listing every problem found.
 *   mutate:    SUCCESS and a kbinder.v1.MutateResult (labels/annotations to set or remove).
 *   reserve:   SUCCESS, ERROR, UNSCHEDULABLE or UNSCHEDULABLE_AND_UNRESOLVABLE.
 *   unreserve: return value ignored; must be idempotent (it runs even if reserve did not).
 *   permit:    SUCCESS, WAIT with a kbinder.v1.PermitResult (timeout), or a rejection.
 *   pre_bind:  SUCCESS or a failure.
 *   bind:      SKIP ("not mine"), SUCCESS (bound) or a failure.
 *   post_bind: return value logged only.
 * THREADING: from host worker threads; see the descriptor's concurrency. */
typedef kbinder_status_t (*kbinder_hook_fn)(void* instance, kbinder_call* call,
                                            const kbinder_cycle* cycle, void** cycle_state);

/* Releases what the plugin stored in its cycle_state slot. Called once per cycle with a non-NULL
 * state, after the cycle's last hook, on success and failure alike. */
typedef void (*kbinder_hook_release_cycle_state_fn)(void* instance, void* cycle_state);

/* What a plugin is and what it implements.
 * OWNERSHIP: plugin; static storage is the usual choice. LIFETIME: until the library is unloaded.
 * THREADING: read-only after the entry symbol returns. */
typedef struct kbinder_plugin_descriptor {
  uint32_t struct_size;    /* sizeof(kbinder_plugin_descriptor) as the plugin compiled it */
  uint32_t struct_version; /* KBINDER_ABI_VERSION as the plugin compiled it */

  const char* name;    /* required: [a-z0-9][a-z0-9_.-]*, the name profiles use */
  const char* version; /* the plugin's own version, free form; may be NULL */
  kbinder_concurrency_t concurrency;
  uint32_t reserved0; /* zero */

  kbinder_hook_create_fn create;                           /* required */
  kbinder_hook_destroy_fn destroy;                         /* required */
  kbinder_hook_release_cycle_state_fn release_cycle_state; /* required if any hook sets state */

  /* Extension points; NULL = not implemented. reserve and unreserve come as a pair. */
  kbinder_hook_fn validate;
  kbinder_hook_fn mutate;
  kbinder_hook_fn reserve;
  kbinder_hook_fn unreserve;
  kbinder_hook_fn permit;
  kbinder_hook_fn pre_bind;
  kbinder_hook_fn bind;
  kbinder_hook_fn post_bind;

  /* ---- Added in 1.1 ---- */
  const char* description; /* one line for operators; may be NULL */

  /* Appended in later minors only. */
} kbinder_plugin_descriptor;

/* Size of the descriptor as a plugin built against 1.0 laid it out. */
#define KBINDER_PLUGIN_DESCRIPTOR_SIZE_V1_0 offsetof(kbinder_plugin_descriptor, description)

/* The entry symbol. The host calls it once per load, from one thread, before anything else.
 * `host`: the service table (see kbinder_host_services for its lifetime).
 * `error_out`: on failure, set it to a NUL-terminated reason in static storage and return NULL.
 * Returns the descriptor, which must outlive the library's use. */
typedef const kbinder_plugin_descriptor* (*kbinder_plugin_entry_v1_fn)(
    const kbinder_host_services* host, const char** error_out);

/* Declaration for plugins: define it with KBINDER_EXPORT and export nothing else. */
KBINDER_EXPORT const kbinder_plugin_descriptor* kbinder_plugin_v1(const kbinder_host_services* host,
                                                                  const char** error_out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KBINDER_ABI_H_ */
