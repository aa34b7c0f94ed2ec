#pragma once
// Bytes of heap in use by this process, for tests that assert what an idle
// object keeps. glibc's counters normally; AddressSanitizer's when the build
// is sanitized (its allocator bypasses glibc's, whose counters then stand
// still and would make such a test pass whatever happened). glibc counts
// chunks in its per-thread cache as in use, so the tests run with that cache
// off (GLIBC_TUNABLES=glibc.malloc.tcache_count=0, set in CMakeLists.txt),
// and heapMeasurable() checks that small allocations do show.

#include <QtGlobal>

#include <cstddef>
#include <cstdlib>

#if defined(__SANITIZE_ADDRESS__)
#define MEDRELAY_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEDRELAY_TEST_ASAN 1
#endif
#endif

#ifdef MEDRELAY_TEST_ASAN
// From the sanitizer runtime (its header is not installed with every compiler).
extern "C" size_t __sanitizer_get_current_allocated_bytes();
#else
#include <malloc.h>
#endif

namespace medrelay::transport::test {

inline qint64 heapInUse()
{
#ifdef MEDRELAY_TEST_ASAN
    return static_cast<qint64>(__sanitizer_get_current_allocated_bytes());
#else
    return static_cast<qint64>(::mallinfo2().uordblks);
#endif
}

// True when a small allocation shows in heapInUse().
inline bool heapMeasurable()
{
    const qint64 before = heapInUse();
    void *volatile p = ::malloc(100);
    const qint64 during = heapInUse();
    ::free(p);
    return during - before >= 100 && heapInUse() == before;
}

} // namespace medrelay::transport::test
