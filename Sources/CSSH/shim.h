#ifndef LIFEBOAT_CSSH_SHIM_H
#define LIFEBOAT_CSSH_SHIM_H

// libssh 0.10 for LifeboatSSH. `ssh_options_set` takes its value through `const void *` whose
// pointee type depends on the option (int for PORT and NODELAY, long for TIMEOUT, bool for
// PROCESS_CONFIG, a C string for the rest); passing the wrong width is silently misread. One
// typed wrapper per value type keeps that mapping in one place.

#include <stdbool.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>

// MARK: - Session options

/// Options whose value is a C string (HOST, USER, KNOWNHOSTS, CIPHERS_C_S, ...).
static inline int lb_ssh_set_string(ssh_session session, enum ssh_options_e option, const char *value) {
    return ssh_options_set(session, option, value);
}

/// Options whose value is an `int` (PORT, NODELAY, STRICTHOSTKEYCHECK, PASSWORD_AUTH, ...).
static inline int lb_ssh_set_int(ssh_session session, enum ssh_options_e option, int value) {
    return ssh_options_set(session, option, &value);
}

/// Options whose value is a `long` (TIMEOUT, TIMEOUT_USEC).
static inline int lb_ssh_set_long(ssh_session session, enum ssh_options_e option, long value) {
    return ssh_options_set(session, option, &value);
}

/// Options whose value is a `bool` (PROCESS_CONFIG).
static inline int lb_ssh_set_bool(ssh_session session, enum ssh_options_e option, bool value) {
    return ssh_options_set(session, option, &value);
}

#endif
