#ifndef HARMONIZE_CSQLITE_SHIM_H
#define HARMONIZE_CSQLITE_SHIM_H
#include <sqlite3.h>

/// SQLITE_TRANSIENT cannot be imported into Swift (it is a macro casting -1 to a function pointer).
static inline sqlite3_destructor_type harmonize_sqlite_transient(void) { return SQLITE_TRANSIENT; }
/// SQLITE_STATIC, for buffers that outlive the statement step.
static inline sqlite3_destructor_type harmonize_sqlite_static(void) { return SQLITE_STATIC; }

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

/// Starts writing back the dirty pages of the file open at `fd` without waiting for them
/// (Linux `sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE)`, called through `syscall` because
/// glibc declares it only under _GNU_SOURCE); 0, or -1 with errno. Elsewhere a no-op returning 0.
static inline int harmonize_start_writeback(int fd) {
#if defined(__linux__) && defined(SYS_sync_file_range)
    return (int)syscall(SYS_sync_file_range, fd, (long long)0, (long long)0, 2u /* SYNC_FILE_RANGE_WRITE */);
#else
    (void)fd;
    return 0;
#endif
}
#endif
