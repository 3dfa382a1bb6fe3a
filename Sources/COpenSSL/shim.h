#ifndef LIFEBOAT_COPENSSL_SHIM_H
#define LIFEBOAT_COPENSSL_SHIM_H

// OpenSSL 3 for LifeboatCrypto. Swift cannot call function-like macros, and OSSL_PARAM keeps
// pointers to its name and string values after construction, so names built from Swift string
// temporaries would dangle (EVP_KDF_derive then fails with an empty error queue). Everything
// of that kind is wrapped here, with the names as C string literals of static lifetime.

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

// MARK: - Constants

/// The key type of X25519 keys for EVP_PKEY_new_raw_*_key.
static inline int lb_pkey_type_x25519(void) { return EVP_PKEY_X25519; }

// MARK: - AEAD tags

/// Reads the authentication tag after EVP_EncryptFinal_ex.
static inline int lb_aead_get_tag(EVP_CIPHER_CTX *ctx, unsigned char *tag, int length) {
    return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, length, tag);
}

/// Sets the expected authentication tag before EVP_DecryptFinal_ex.
static inline int lb_aead_set_tag(EVP_CIPHER_CTX *ctx, const unsigned char *tag, int length) {
    return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, length, (void *)tag);
}

// MARK: - OSSL_PARAM for HKDF

/// The `digest` parameter set to SHA-256.
static inline OSSL_PARAM lb_kdf_param_digest_sha256(void) {
    return OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
}

/// The `key` (input keying material) parameter; `bytes` must outlive the derive call.
static inline OSSL_PARAM lb_kdf_param_key(const unsigned char *bytes, size_t length) {
    return OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)bytes, length);
}

/// The `salt` parameter; `bytes` must outlive the derive call.
static inline OSSL_PARAM lb_kdf_param_salt(const unsigned char *bytes, size_t length) {
    return OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)bytes, length);
}

/// The `info` parameter; `bytes` must outlive the derive call.
static inline OSSL_PARAM lb_kdf_param_info(const unsigned char *bytes, size_t length) {
    return OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)bytes, length);
}

/// The terminator of an OSSL_PARAM array.
static inline OSSL_PARAM lb_param_end(void) { return OSSL_PARAM_construct_end(); }

// MARK: - PEM private keys (RSASigningKey)

#include <openssl/bio.h>
#include <openssl/pem.h>

#endif
