/* SPDX-License-Identifier: Apache-2.0 */
/* The audit log: every use and change, append-only, never a value. */
#include "internal.h"

sr_rc sr_audit(sr_store *st, const char *reference, int version,
               const char *action, const char *detail)
{
    return sr_db_audit_add(st, reference, version, action, detail);
}

sr_rc sr_audit_list(sr_store *st, const char *name, sr_audit_entry **out,
                    size_t *count)
{
    return sr_db_audit_list(st, name, out, count);
}
