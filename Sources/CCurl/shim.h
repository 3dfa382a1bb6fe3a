#ifndef LIFEBOAT_CCURL_SHIM_H
#define LIFEBOAT_CCURL_SHIM_H

// libcurl for LifeboatCurl. curl_easy_setopt and curl_easy_getinfo are variadic, which Swift
// cannot call: each argument type gets a typed wrapper here.

#include <curl/curl.h>

typedef size_t (*lb_curl_data_callback)(char *buffer, size_t size, size_t count, void *userdata);
typedef int (*lb_curl_xferinfo_callback)(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                                         curl_off_t ultotal, curl_off_t ulnow);

static inline CURLcode lb_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode lb_curl_setopt_off(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

/// libcurl copies string options (except a few documented ones this project does not use).
static inline CURLcode lb_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode lb_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode lb_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode lb_curl_setopt_data_callback(CURL *handle, CURLoption option, lb_curl_data_callback value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode lb_curl_setopt_xferinfo(CURL *handle, lb_curl_xferinfo_callback value) {
    return curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, value);
}

static inline CURLcode lb_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode lb_curl_getinfo_off(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode lb_curl_getinfo_string(CURL *handle, CURLINFO info, char **value) {
    return curl_easy_getinfo(handle, info, value);
}

/// Returned by a read callback to abort the transfer.
static inline size_t lb_curl_readfunc_abort(void) { return CURL_READFUNC_ABORT; }

/// CURLOPT_SSLVERSION for "TLS 1.2 only" (the MAX_ values are macros Swift cannot import).
static inline long lb_curl_sslversion_tls12_only(void) { return CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2; }

#endif
