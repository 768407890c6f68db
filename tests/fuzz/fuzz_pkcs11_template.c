/* SPDX-License-Identifier: Apache-2.0 */
/* The PKCS#11 module's handling of attribute templates (pkcs11/attr.c,
 * object.c), its C_* functions called directly against a key-file store
 * made once per process (RSA-2048, EC P-256 with a certificate, Ed25519,
 * a manual secret). The input is a list of calls: C_FindObjectsInit with
 * C_FindObjects, C_GetAttributeValue, C_CreateObject, C_GenerateKeyPair,
 * C_SetAttributeValue and C_GetObjectSize, each with a template decoded
 * from the input: attribute types, values, NULL pValue with any length
 * (huge, zero, CK_UNAVAILABLE_INFORMATION), and lengths that do not fit
 * the type. Every buffer has its exact size, so ASan sees any overrun.
 * A call that changed the store is followed by a fresh copy of it. */
#include "fuzz.h"
#include "internal.h"
#include "pk11.h"

/* A test key and its self-signed certificate, made for this target with
 * "openssl req -x509 -newkey ec"; it protects nothing. */
static const char test_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgdtmq3TaFQ3zcL0GV\n"
    "8q6LvsmdNE/SrcYHi/RPnalxlsKhRANCAAS4W/Z361UES2kt5BSqOEJQN/FjJd6N\n"
    "UkoqBkAvfa8HZ33+t4vD1Rh7LsHlcOvUOdhqI0kspLsuEV0A/QlLc7ug\n"
    "-----END PRIVATE KEY-----\n"
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBhzCCAS2gAwIBAgIUdo0SI7aIHJl4LAy4/I49S8uBqlgwCgYIKoZIzj0EAwIw\n"
    "GDEWMBQGA1UEAwwNZnV6eiB0ZXN0IGtleTAgFw0yNjExMzAxMTM1MDZaGA8yMTI2\n"
    "MTEwNjExMzUwNlowGDEWMBQGA1UEAwwNZnV6eiB0ZXN0IGtleTBZMBMGByqGSM49\n"
    "AgEGCCqGSM49AwEHA0IABLhb9nfrVQRLaS3kFKo4QlA38WMl3o1SSioGQC99rwdn\n"
    "ff63i8PVGHsuweVw69Q52GojSSykuy4RXQD9CUtzu6CjUzBRMB0GA1UdDgQWBBRw\n"
    "C8BSgci+VNhMYZL/N+RZjBcb7DAfBgNVHSMEGDAWgBRwC8BSgci+VNhMYZL/N+RZ\n"
    "jBcb7DAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCICVmfPMOn2dO\n"
    "SmUVs5whi0i+l182s4dliWNaq55Vn/njAiEA2N14Rhq98lHNL6OxyX8z7vAdoqnO\n"
    "hFF5yBAJ2efJFfE=\n"
    "-----END CERTIFICATE-----\n";

#define TEMPLATE_MAX 8
#define HANDLES_MAX 32
#define CALLS_MAX 16

struct input {
    const uint8_t *p;
    size_t left;
};

struct template {
    CK_ATTRIBUTE attrs[TEMPLATE_MAX];
    CK_ULONG count, sizes[TEMPLATE_MAX];
};

static CK_FUNCTION_LIST_PTR F;
static char store_path[PATH_MAX + 16], key_path[PATH_MAX + 16],
    pristine_path[PATH_MAX + 16], reserved[2 * PATH_MAX + 64];
static CK_SESSION_HANDLE rw, ro;
static CK_OBJECT_HANDLE handles[HANDLES_MAX];
static CK_ULONG handle_count;

static const CK_ATTRIBUTE_TYPE types[] = {CKA_CLASS,
                                          CKA_TOKEN,
                                          CKA_PRIVATE,
                                          CKA_LABEL,
                                          CKA_APPLICATION,
                                          CKA_VALUE,
                                          CKA_OBJECT_ID,
                                          CKA_CERTIFICATE_TYPE,
                                          CKA_ISSUER,
                                          CKA_SERIAL_NUMBER,
                                          CKA_TRUSTED,
                                          CKA_CERTIFICATE_CATEGORY,
                                          CKA_CHECK_VALUE,
                                          CKA_KEY_TYPE,
                                          CKA_SUBJECT,
                                          CKA_ID,
                                          CKA_SENSITIVE,
                                          CKA_ENCRYPT,
                                          CKA_DECRYPT,
                                          CKA_WRAP,
                                          CKA_UNWRAP,
                                          CKA_SIGN,
                                          CKA_SIGN_RECOVER,
                                          CKA_VERIFY,
                                          CKA_DERIVE,
                                          CKA_START_DATE,
                                          CKA_END_DATE,
                                          CKA_MODULUS,
                                          CKA_MODULUS_BITS,
                                          CKA_PUBLIC_EXPONENT,
                                          CKA_PRIVATE_EXPONENT,
                                          CKA_PUBLIC_KEY_INFO,
                                          CKA_VALUE_LEN,
                                          CKA_EXTRACTABLE,
                                          CKA_LOCAL,
                                          CKA_NEVER_EXTRACTABLE,
                                          CKA_ALWAYS_SENSITIVE,
                                          CKA_KEY_GEN_MECHANISM,
                                          CKA_MODIFIABLE,
                                          CKA_COPYABLE,
                                          CKA_DESTROYABLE,
                                          CKA_EC_PARAMS,
                                          CKA_EC_POINT,
                                          CKA_ALWAYS_AUTHENTICATE,
                                          CKA_WRAP_WITH_TRUSTED,
                                          CKA_ALLOWED_MECHANISMS,
                                          CKA_URL,
                                          CKA_HASH_OF_SUBJECT_PUBLIC_KEY,
                                          CKA_VENDOR_DEFINED};

static const CK_ULONG lengths[] = {0,
                                   1,
                                   2,
                                   4,
                                   sizeof(CK_ULONG),
                                   16,
                                   0x7fffffffUL,
                                   0xffffffffUL,
                                   CK_UNAVAILABLE_INFORMATION,
                                   (CK_ULONG)-2,
                                   (CK_ULONG)1 << 62};

static const CK_ULONG ulongs[] = {CKO_DATA,
                                  CKO_CERTIFICATE,
                                  CKO_PUBLIC_KEY,
                                  CKO_PRIVATE_KEY,
                                  CKO_SECRET_KEY,
                                  CKK_RSA,
                                  CKK_EC,
                                  CKK_EC_EDWARDS,
                                  CKC_X_509,
                                  2048,
                                  3072,
                                  1024,
                                  0,
                                  CK_UNAVAILABLE_INFORMATION,
                                  0x80000000UL,
                                  (CK_ULONG)-1};

static uint8_t byte(struct input *in) {
    if (!in->left)
        return 0;
    in->left--;
    return *in->p++;
}

static void bytes(struct input *in, unsigned char *out, size_t n) {
    size_t take = n < in->left ? n : in->left;

    memcpy(out, in->p, take);
    memset(out + take, 0, n - take);
    in->p += take;
    in->left -= take;
}

static void template_free(struct template *t) {
    CK_ULONG i;

    for (i = 0; i < t->count; i++)
        free(t->attrs[i].pValue);
    t->count = 0;
}

/* A template from the input; output marks one C_GetAttributeValue fills. */
static void template_read(struct input *in, struct template *t, int output) {
    CK_ATTRIBUTE *a;
    CK_ULONG i, v;
    uint8_t b, mode;
    size_t n;

    memset(t, 0, sizeof(*t));
    t->count = byte(in) % (TEMPLATE_MAX + 1);
    for (i = 0; i < t->count; i++) {
        a = &t->attrs[i];
        b = byte(in);
        if (b < sizeof(types) / sizeof(types[0])) {
            a->type = types[b];
        } else if (b == 0xff) {
            bytes(in, (unsigned char *)&a->type, sizeof(a->type));
        } else {
            a->type = b;
        }
        mode = byte(in);
        switch (mode % 7) {
        case 0: /* NULL with a length: a size query, or a bad template */
            a->ulValueLen =
                lengths[byte(in) % (sizeof(lengths) / sizeof(lengths[0]))];
            continue;
        case 1: /* a CK_BBOOL */
            n = 1;
            break;
        case 2: /* a CK_ULONG */
            n = sizeof(CK_ULONG);
            break;
        case 3: /* a short value */
            n = byte(in) % 64;
            break;
        case 4: /* a longer value */
            n = byte(in);
            n = n << 8 | byte(in);
            n %= 4096;
            break;
        case 5: /* a buffer, and a length of zero */
            n = 0;
            break;
        default: /* a value of a length that fits no type */
            n = 3 + byte(in) % 5;
            break;
        }
        /* malloc(0) may be NULL: one byte more, never told to the module. */
        if (!(a->pValue = malloc(n ? n : 1)))
            abort();
        a->ulValueLen = n;
        t->sizes[i] = n;
        if (output) {
            memset(a->pValue, 0xa5, n);
        } else if (mode % 7 == 1) {
            *(CK_BBOOL *)a->pValue = byte(in) % 3 == 2 ? 0x42 : byte(in) & 1;
        } else if (mode % 7 == 2) {
            v = ulongs[byte(in) % (sizeof(ulongs) / sizeof(ulongs[0]))];
            memcpy(a->pValue, &v, sizeof(v));
        } else {
            bytes(in, a->pValue, n);
        }
    }
}

static void find_handles(void) {
    CK_ULONG got = 0;

    handle_count = 0;
    if (F->C_FindObjectsInit(rw, NULL, 0) != CKR_OK ||
        F->C_FindObjects(rw, handles, HANDLES_MAX, &got) != CKR_OK ||
        F->C_FindObjectsFinal(rw) != CKR_OK || got == 0)
        abort();
    handle_count = got;
}

static void module_start(void) {
    CK_C_INITIALIZE_ARGS args;
    CK_SLOT_ID slot;
    CK_ULONG n = 1;

    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    args.pReserved = reserved;
    if (F->C_Initialize(&args) != CKR_OK ||
        F->C_GetSlotList(CK_TRUE, &slot, &n) != CKR_OK || n != 1 ||
        F->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                         &rw) != CKR_OK ||
        F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &ro) != CKR_OK)
        abort();
    find_handles();
}

static void copy_file(const char *from, const char *to) {
    unsigned char buf[65536];
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    size_t n;

    if (!in || !out)
        abort();
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            abort();
    if (ferror(in) || fclose(out) != 0)
        abort();
    (void)fclose(in); /* read only: nothing to lose */
}

/* Back to the store as setup left it: the module closes it first. */
static void module_reset(void) {
    char path[PATH_MAX + 32];

    if (F->C_Finalize(NULL) != CKR_OK)
        abort();
    snprintf(path, sizeof(path), "%s-wal", store_path);
    unlink(path);
    snprintf(path, sizeof(path), "%s-shm", store_path);
    unlink(path);
    copy_file(pristine_path, store_path);
    module_start();
}

static void create(sr_store *st, const char *name, const char *generate,
                   const char *pem) {
    sr_ref_spec spec;
    sr_secret *secret = NULL;

    memset(&spec, 0, sizeof(spec));
    spec.name = name;
    spec.kind = SR_KIND_CERTIFICATE;
    spec.generate = generate;
    if (pem) {
        spec.key_file_data = (const unsigned char *)pem;
        spec.key_file_len = strlen(pem);
    } else if (!generate) {
        spec.kind = SR_KIND_MANUAL;
        if (sr_secret_from("not-a-secret", 12, &secret) != SR_OK)
            abort();
        spec.secret = secret;
    }
    if (sr_ref_create(st, &spec) != SR_OK) {
        fprintf(stderr, "%s: %s\n", name, sr_store_errmsg(st));
        abort();
    }
    sr_secret_free(secret);
}

static void setup(void) {
    sr_config cfg;
    sr_store *st = NULL;
    char err[512];

    snprintf(store_path, sizeof(store_path), "%s/store.db", fuzz_tmpdir());
    snprintf(pristine_path, sizeof(pristine_path), "%s/pristine.db",
             fuzz_tmpdir());
    snprintf(key_path, sizeof(key_path), "%s/master.key", fuzz_tmpdir());
    snprintf(reserved, sizeof(reserved), "store=%s key_file=%s", store_path,
             key_path);
    memset(&cfg, 0, sizeof(cfg));
    cfg.store_path = store_path;
    cfg.key_file = key_path;
    cfg.program = "fuzz_pkcs11_template";
    if (sr_store_init(&cfg, SR_KEY_SOURCE_FILE, &st, err, sizeof(err)) !=
        SR_OK) {
        fprintf(stderr, "sr_store_init: %s\n", err);
        abort();
    }
    create(st, "p11-rsa", "rsa-2048", NULL);
    create(st, "p11-ed", "ed25519", NULL);
    create(st, "p11-cert", NULL, test_key_pem);
    create(st, "p11-manual", NULL, NULL);
    /* Everything in the main file, so one copy is the whole store. */
    if (sr_db_checkpoint(st) != SR_OK)
        abort();
    sr_store_free(st);
    copy_file(store_path, pristine_path);
    if (C_GetFunctionList(&F) != CKR_OK)
        abort();
    module_start();
}

static CK_OBJECT_HANDLE pick_handle(struct input *in) {
    uint8_t b = byte(in);
    CK_OBJECT_HANDLE h;

    if (b < handle_count)
        return handles[b];
    if (b == 0xff) {
        bytes(in, (unsigned char *)&h, sizeof(h));
        return h;
    }
    return b;
}

static CK_SESSION_HANDLE pick_session(struct input *in) {
    uint8_t b = byte(in) % 8;

    return b < 6 ? rw : b == 6 ? ro : 0xdead;
}

/* What C_GetAttributeValue promises of each attribute it was asked. */
static void check_get(CK_RV rv, const struct template *t) {
    CK_ULONG i, len;

    if (rv != CKR_OK && rv != CKR_ATTRIBUTE_SENSITIVE &&
        rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_BUFFER_TOO_SMALL)
        return;
    for (i = 0; i < t->count; i++) {
        len = t->attrs[i].ulValueLen;
        if (t->attrs[i].pValue && len != CK_UNAVAILABLE_INFORMATION &&
            len > t->sizes[i]) {
            fprintf(stderr, "attribute 0x%lx: %lu bytes in a buffer of %lu\n",
                    t->attrs[i].type, len, t->sizes[i]);
            abort();
        }
    }
    if (rv == CKR_OK)
        for (i = 0; i < t->count; i++)
            if (t->attrs[i].ulValueLen == CK_UNAVAILABLE_INFORMATION)
                abort();
}

/* Key generation, but never of an RSA key: seconds each, and the
 * mechanism's template handling is the same for every size. */
static int rsa_keygen(const struct template *pub) {
    CK_ULONG i, bits;

    for (i = 0; i < pub->count; i++) {
        if (pub->attrs[i].type != CKA_MODULUS_BITS || !pub->attrs[i].pValue ||
            pub->attrs[i].ulValueLen != sizeof(CK_ULONG))
            continue;
        memcpy(&bits, pub->attrs[i].pValue, sizeof(bits));
        if (bits == 2048 || bits == 3072 || bits == 4096)
            return 1;
    }
    return 0;
}

static int call(struct input *in) {
    static const CK_MECHANISM_TYPE mechs[] = {
        CKM_EC_KEY_PAIR_GEN, CKM_EC_EDWARDS_KEY_PAIR_GEN,
        CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_SHA256_RSA_PKCS};
    struct template t, t2;
    CK_OBJECT_HANDLE found[4], h = 0, h2 = 0;
    CK_MECHANISM mech = {0, NULL, 0};
    CK_SESSION_HANDLE s;
    CK_ULONG got, size, i;
    int changed = 0;
    CK_RV rv;

    switch (byte(in) % 6) {
    case 0:
        s = pick_session(in);
        template_read(in, &t, 0);
        rv = F->C_FindObjectsInit(s, t.count || byte(in) & 1 ? t.attrs : NULL,
                                  t.count);
        if (rv == CKR_OK) {
            for (i = 0; i < HANDLES_MAX; i++) {
                got = 99;
                if (F->C_FindObjects(s, found, 1 + byte(in) % 4, &got) !=
                        CKR_OK ||
                    got == 0)
                    break;
                if (got > 4)
                    abort();
            }
            if (F->C_FindObjectsFinal(s) != CKR_OK)
                abort();
        }
        template_free(&t);
        break;
    case 1:
        s = pick_session(in);
        h = pick_handle(in);
        template_read(in, &t, 1);
        rv = F->C_GetAttributeValue(s, h, t.attrs, t.count);
        check_get(rv, &t);
        template_free(&t);
        break;
    case 2:
        s = pick_session(in);
        template_read(in, &t, 0);
        rv = F->C_CreateObject(s, t.attrs, t.count, &h);
        changed = rv == CKR_OK;
        template_free(&t);
        break;
    case 3:
        s = pick_session(in);
        mech.mechanism = mechs[byte(in) % 4];
        template_read(in, &t, 0);
        template_read(in, &t2, 0);
        if (mech.mechanism != CKM_RSA_PKCS_KEY_PAIR_GEN || !rsa_keygen(&t)) {
            rv = F->C_GenerateKeyPair(s, &mech, t.attrs, t.count, t2.attrs,
                                      t2.count, &h, &h2);
            changed = rv == CKR_OK;
        }
        template_free(&t);
        template_free(&t2);
        break;
    case 4:
        s = pick_session(in);
        h = pick_handle(in);
        template_read(in, &t, 0);
        rv = F->C_SetAttributeValue(s, h, t.attrs, t.count);
        changed = rv == CKR_OK;
        template_free(&t);
        break;
    default:
        s = pick_session(in);
        h = pick_handle(in);
        (void)F->C_GetObjectSize(s, h, &size);
        break;
    }
    return changed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct input in = {data, size};
    int changed = 0, calls = 0;

    if (!F)
        setup();
    while (in.left && calls++ < CALLS_MAX)
        changed |= call(&in);
    if (changed)
        module_reset();
    return 0;
}
