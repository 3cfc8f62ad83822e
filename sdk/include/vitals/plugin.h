/*
 * vitals plugin ABI — the only contract between the vitals daemon (the host) and a check plugin.
 *
 * Pure C, standard headers only, so a plugin built with another compiler, another standard library
 * or another C++ ABI still loads. Authors normally use the header-only C++ layer in
 * <vitals/plugin.hpp>, which fills these structures for them.
 *
 * Versioning
 *   A plugin exports one symbol, `vitals_plugin_entry`, returning a `vitals_plugin_descriptor`.
 *   The host reads `abi_major` before anything else and refuses a plugin whose major differs from
 *   its own. Minor versions only ever append fields: every struct starts with `struct_size`, and a
 *   reader uses a field only when `struct_size` says the writer knew about it.
 *
 * Ownership
 *   - Everything reachable from the descriptor (names, descriptions, option tables, function
 *     pointers) is owned by the plugin, is static, and must stay valid while the library is loaded.
 *   - `options_json` passed to create() is owned by the host and valid only during the call.
 *   - The instance returned by create() is owned by the host until it passes it to destroy();
 *     the plugin frees it there. The host calls run() for one instance from one thread at a time.
 *   - `vitals_result` and the `error` buffer of create() are owned by the host; the plugin writes
 *     into their fixed-size buffers (always NUL-terminated, truncated if too long) and keeps no
 *     pointer to them after returning.
 *   - Strings given to the host API's log() are copied by the host before it returns.
 *   No function here may let an exception or a longjmp escape.
 */
#ifndef VITALS_PLUGIN_H
#define VITALS_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VITALS_ABI_MAJOR 1
#define VITALS_ABI_MINOR 0

/* Name of the one exported symbol. */
#define VITALS_PLUGIN_ENTRY_SYMBOL "vitals_plugin_entry"

/* Result status of one run. Any other value is treated by the host as `fail` ("invalid status"). */
typedef enum vitals_status {
    VITALS_STATUS_PASS = 0,
    VITALS_STATUS_WARN = 1,
    VITALS_STATUS_FAIL = 2
} vitals_status;

/* Type of a check option, as the configuration file spells it. The host validates the user's
 * options against the schema and passes them to create() normalised:
 *   STRING → JSON string; INT → JSON integer; NUMBER → JSON number; BOOL → true/false;
 *   DURATION → JSON integer of milliseconds (written as a string with a unit: "250ms", "5s", "1m";
 *              a bare number is refused, in the user's options and in default_json alike);
 *   STRING_LIST → JSON array of strings; STRING_MAP → JSON object of string values. */
typedef enum vitals_option_type {
    VITALS_OPTION_STRING = 0,
    VITALS_OPTION_INT = 1,
    VITALS_OPTION_NUMBER = 2,
    VITALS_OPTION_BOOL = 3,
    VITALS_OPTION_DURATION = 4,
    VITALS_OPTION_STRING_LIST = 5,
    VITALS_OPTION_STRING_MAP = 6
} vitals_option_type;

/* Option flags. */
#define VITALS_OPTION_REQUIRED 0x1u /* must be given by the user; default_json is ignored */
#define VITALS_OPTION_SECRET 0x2u   /* value never shown in logs, responses or `vitals plugins` */

/* One row of a check type's option schema: name, type, default, help in one place. */
typedef struct vitals_option_spec {
    uint32_t struct_size;     /* sizeof(vitals_option_spec) as the plugin was compiled */
    const char* name;         /* non-null, e.g. "port" */
    uint32_t type;            /* a vitals_option_type */
    uint32_t flags;           /* VITALS_OPTION_* bits */
    const char* default_json; /* JSON text of the default (e.g. "6379", "\"/\""), or NULL: no default */
    const char* help;         /* non-null, one line */
} vitals_option_spec;

/* Output of one run, owned by the host, zeroed and `struct_size` set before run() is called. */
#define VITALS_OUTPUT_MAX 1024
#define VITALS_UNIT_MAX 32
#define VITALS_MEASUREMENT_MAX 48
typedef struct vitals_result {
    uint32_t struct_size;
    int32_t status;                           /* a vitals_status */
    char output[VITALS_OUTPUT_MAX];           /* one line for humans; empty on plain success */
    int32_t has_observed_value;               /* non-zero when observed_value is meaningful */
    double observed_value;                    /* e.g. latency in ms, free percent */
    char observed_unit[VITALS_UNIT_MAX];      /* e.g. "ms", "percent", "bytes" */
    char measurement[VITALS_MEASUREMENT_MAX]; /* e.g. "responseTime"; empty → the type's default */
} vitals_result;

/* Log levels for the host API. */
typedef enum vitals_log_level {
    VITALS_LOG_DEBUG = 0,
    VITALS_LOG_INFO = 1,
    VITALS_LOG_WARN = 2,
    VITALS_LOG_ERROR = 3
} vitals_log_level;

/* Services the host offers a plugin. Owned by the host, valid for as long as the library is loaded. */
typedef struct vitals_host_api {
    uint32_t struct_size;
    uint16_t abi_major;
    uint16_t abi_minor;
    void* context; /* opaque, pass back to the functions below */
    /* Log one line under the plugin's name. `message` is copied. Thread-safe. Never print secrets. */
    void (*log)(void* context, int32_t level, const char* message);
} vitals_host_api;

/* One check type a plugin provides. */
typedef struct vitals_check_type {
    uint32_t struct_size;
    const char* name;                   /* non-null, unique across all loaded plugins, e.g. "redis" */
    const char* description;            /* non-null, one line */
    const char* component_type;         /* health+json componentType: "datastore", "system", "component" */
    const char* default_measurement;    /* non-null, e.g. "responseTime" */
    const vitals_option_spec* options;  /* option_count rows (may be NULL when option_count is 0) */
    size_t option_count;

    /* Create an instance from normalised options (see vitals_option_type). On success store the
     * instance in *instance and return 0. On failure write a one-line reason into
     * error[0..error_size) and return non-zero; *instance is then ignored. */
    int32_t (*create)(const char* options_json, void** instance, char* error, size_t error_size);

    /* Perform one probe and fill `result`. `deadline_ns` is a CLOCK_MONOTONIC time in nanoseconds by
     * which the plugin should have returned; the host records a timeout if it has not, and treats a
     * call that never returns as stuck. */
    void (*run)(void* instance, int64_t deadline_ns, vitals_result* result);

    /* Free an instance created by create(). Never called while run() of that instance is active. */
    void (*destroy)(void* instance);
} vitals_check_type;

/* What vitals_plugin_entry returns. Static, owned by the plugin. Field order of the first three
 * members is frozen forever so that any host can read the ABI version. */
typedef struct vitals_plugin_descriptor {
    uint32_t struct_size;
    uint16_t abi_major; /* VITALS_ABI_MAJOR the plugin was built with */
    uint16_t abi_minor; /* VITALS_ABI_MINOR the plugin was built with */
    const char* name;    /* non-null, e.g. "vitals-redis" */
    const char* version; /* non-null, e.g. "1.2.0" */
    const vitals_check_type* types; /* type_count entries, non-null */
    size_t type_count;
} vitals_plugin_descriptor;

/* The one exported symbol. Called once after loading; `host` stays valid while loaded.
 * Returns the descriptor, or NULL if the plugin cannot initialise. */
typedef const vitals_plugin_descriptor* (*vitals_plugin_entry_fn)(const vitals_host_api* host);

/* Plugins are built with hidden visibility (vitals_add_plugin does this); the entry point must be
 * exported explicitly. A C plugin defines it as:
 *   VITALS_PLUGIN_EXPORT const vitals_plugin_descriptor* vitals_plugin_entry(const vitals_host_api* host) {...} */
#define VITALS_PLUGIN_EXPORT __attribute__((visibility("default")))
VITALS_PLUGIN_EXPORT const vitals_plugin_descriptor* vitals_plugin_entry(const vitals_host_api* host);

/* Arrays in the descriptor (types, options) are read with the stride of their elements'
 * struct_size, so a plugin built against a later minor version (larger structs) still loads. */

#ifdef __cplusplus
}
#endif

#endif /* VITALS_PLUGIN_H */
