#ifndef HARMONIZE_CLIBPQ_SHIM_H
#define HARMONIZE_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
