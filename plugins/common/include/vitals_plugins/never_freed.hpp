#ifndef VITALS_PLUGINS_NEVER_FREED_HPP
#define VITALS_PLUGINS_NEVER_FREED_HPP

// never_freed(): marks an object a plugin deliberately never destroys (the daemon std::_Exit()s, and
// a destructor run at exit would race checks still running). Under LeakSanitizer it is ignored, with
// everything it points to: `vitals check` unloads the plugin before it exits, so the only pointer
// to such an object vanishes with the library, and the report's frames are in an unmapped library,
// which no suppression pattern can match. Elsewhere it is the identity.
#if defined(__SANITIZE_ADDRESS__)
#define VITALS_PLUGINS_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VITALS_PLUGINS_LSAN 1
#endif
#endif
#ifdef VITALS_PLUGINS_LSAN
#include <sanitizer/lsan_interface.h>
#endif

namespace vitals_plugins {

template <class T>
T* never_freed(T* object) {
#ifdef VITALS_PLUGINS_LSAN
    __lsan_ignore_object(object);
#endif
    return object;
}

// Calls f(), whose allocations on this thread are never freed on purpose and held by a library that
// goes when the plugin is unloaded: Poco's initializeSSL(), never undone (tls.hpp), allocates its
// OpenSSL locks in libPocoCrypto, which the unloaded plugin takes with it.
template <class F>
void with_allocations_never_freed(F&& f) {
#ifdef VITALS_PLUGINS_LSAN
    struct Enable {
        ~Enable() { __lsan_enable(); }
    };
    __lsan_disable();
    Enable enable;
#endif
    f();
}

}  // namespace vitals_plugins

#endif
