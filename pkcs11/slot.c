/* SPDX-License-Identifier: Apache-2.0 */
/* The one slot and its token: the store. */
#include "pk11.h"

#include <stdlib.h>
#include <string.h>

CK_RV pk11_C_GetSlotList(CK_BBOOL token_present, CK_SLOT_ID_PTR list,
                         CK_ULONG_PTR count)
{
    CK_RV rv;

    (void)token_present;
    if ((rv = pk11_check_ready()) != CKR_OK)
        return rv;
    if (!count)
        return CKR_ARGUMENTS_BAD;
    if (list) {
        if (*count < 1) {
            *count = 1;
            return CKR_BUFFER_TOO_SMALL;
        }
        list[0] = PK11_SLOT_ID;
    }
    *count = 1;
    return CKR_OK;
}

CK_RV pk11_C_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
    CK_RV rv;

    if ((rv = pk11_check_slot(slot)) != CKR_OK)
        return rv;
    if (!info)
        return CKR_ARGUMENTS_BAD;
    memset(info, 0, sizeof(*info));
    pk11_pad(info->slotDescription, sizeof(info->slotDescription),
             "secretref store");
    pk11_pad(info->manufacturerID, sizeof(info->manufacturerID), "secretref");
    info->flags = CKF_TOKEN_PRESENT;
    info->hardwareVersion.major = 0;
    info->firmwareVersion.major = 0;
    info->firmwareVersion.minor = 1;
    return CKR_OK;
}

CK_RV pk11_C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
    char serial[17], *store_id = NULL;
    CK_SESSION_HANDLE h;
    CK_RV rv;

    if ((rv = pk11_check_slot(slot)) != CKR_OK)
        return rv;
    if (!info)
        return CKR_ARGUMENTS_BAD;
    memset(info, 0, sizeof(*info));
    pthread_mutex_lock(&pk11.lock);
    pk11_pad(info->label, sizeof(info->label), pk11.label);
    /* The serial is the store's id: it tells two stores apart. */
    memset(serial, 0, sizeof(serial));
    if (pk11.store && sr_param_get(pk11.store, "store-id", &store_id) == SR_OK)
        memcpy(serial, store_id, 16);
    pk11_pad(info->serialNumber, sizeof(info->serialNumber), serial);
    info->flags = CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED | CKF_RNG |
                  (pk11.login_required ? CKF_LOGIN_REQUIRED : 0);
    info->ulSessionCount = pk11.session_count;
    for (h = 1; h <= PK11_MAX_SESSIONS; h++)
        if (pk11.sessions[h] && pk11_session_writable(pk11.sessions[h]))
            info->ulRwSessionCount++;
    pthread_mutex_unlock(&pk11.lock);
    free(store_id);
    pk11_pad(info->manufacturerID, sizeof(info->manufacturerID), "secretref");
    pk11_pad(info->model, sizeof(info->model), "secretref store");
    info->ulMaxSessionCount = PK11_MAX_SESSIONS;
    info->ulMaxRwSessionCount = PK11_MAX_SESSIONS;
    info->ulMaxPinLen = 1024;
    info->ulMinPinLen = pk11.login_required ? 1 : 0;
    info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
    info->hardwareVersion.major = 0;
    info->firmwareVersion.minor = 1;
    pk11_pad(info->utcTime, sizeof(info->utcTime), "");
    return CKR_OK;
}

CK_RV pk11_C_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list,
                              CK_ULONG_PTR count)
{
    CK_RV rv;

    if ((rv = pk11_check_slot(slot)) != CKR_OK)
        return rv;
    if (!count)
        return CKR_ARGUMENTS_BAD;
    return pk11_mechanism_list(list, count);
}

CK_RV pk11_C_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type,
                              CK_MECHANISM_INFO_PTR info)
{
    CK_RV rv;

    if ((rv = pk11_check_slot(slot)) != CKR_OK)
        return rv;
    if (!info)
        return CKR_ARGUMENTS_BAD;
    return pk11_mechanism_info(type, info);
}
