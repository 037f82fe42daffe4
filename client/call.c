/*
 * call.c - the request/response tail shared by the client calls that copy
 * fields out of the raw response themselves (auth.c, lease.c) rather than
 * building an ms_result through ms__run().
 *
 * Happy path: ms__client_call() answers OK and the unpacked response is
 * handed to the caller.  Failure modes: no answer (the code and errmsg of
 * ms__client_call() pass through); the server said no (its status mapped
 * to an MS_E* code, its message, or the code's text, as the errmsg).
 */
#include "client/internal.h"
#include "client/metastore.h"

int ms__call_message(struct ms_client *c, uint16_t method,
                     const ProtobufCMessage *req,
                     const ProtobufCMessageDescriptor *desc, bool idempotent,
                     ProtobufCMessage **resp)
{
    struct ms__call call = {
        .method = method,
        .req = req,
        .resp_desc = desc,
        .idempotent = idempotent,
    };
    *resp = NULL;
    int rc = ms__client_call(c, &call);
    if (rc != 0) {
        return rc;
    }
    if (call.err != NULL) {
        rc = ms_status_to_error((int)call.err->code);
        ms__client_set_errmsg(c, "%s",
                              call.err->message != NULL &&
                                      call.err->message[0] != '\0'
                                  ? call.err->message
                                  : ms_strerror(rc));
        metastore__error_detail__free_unpacked(call.err, NULL);
        return rc;
    }
    *resp = call.resp;
    return 0;
}
