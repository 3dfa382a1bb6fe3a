#ifndef LIFEBOAT_CARCHIVE_SHIM_H
#define LIFEBOAT_CARCHIVE_SHIM_H

#include <archive.h>
#include <archive_entry.h>

/// `archive_set_error` is variadic and cannot be called from Swift: sets a fixed message.
static inline void lifeboat_archive_set_error(struct archive *a, int error_number, const char *message) {
    archive_set_error(a, error_number, "%s", message);
}

#endif
