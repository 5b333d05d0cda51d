#ifndef HARMONIZE_CSQLITE_SHIM_H
#define HARMONIZE_CSQLITE_SHIM_H
#include <sqlite3.h>

/// SQLITE_TRANSIENT cannot be imported into Swift (it is a macro casting -1 to a function pointer).
static inline sqlite3_destructor_type harmonize_sqlite_transient(void) { return SQLITE_TRANSIENT; }
/// SQLITE_STATIC, for buffers that outlive the statement step.
static inline sqlite3_destructor_type harmonize_sqlite_static(void) { return SQLITE_STATIC; }
#endif
