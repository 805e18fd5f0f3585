//  fuzz_proto.c: libFuzzer target for every decoder of the wire protocol.
//
//  The input is one message: a byte that says where the native part
//  starts (0, or 1 after a ROUTER's identity frame), then frames, each a
//  length byte (255: two more bytes, big-endian) and that many bytes. The
//  message is decoded as the brokers decode it, and the records of a MATCH
//  or STATE are walked, as the hub and edges walk them. tests/fuzz/run.

#include "spw_proto.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t first = data[0] & 1;
    size_t at = 1;
    spw_msg_t msg;
    spw_msg_init(&msg);
    while (at < size) {
        size_t len = data[at++];
        if (len == 255) {
            if (at + 2 > size)
                break;
            len = ((size_t) data[at] << 8) | data[at + 1];
            at += 2;
        }
        if (len > size - at)
            len = size - at;
        if (spw_msg_add_mem(&msg, data + at, len) != 0)
            break;
        at += len;
    }
    spw_proto_t out;
    if (spw_proto_decode(&msg, first, &out, NULL) == 0) {
        size_t offset = 0;
        if (out.cmd == SPW_CMD_MATCH) {
            spw_match_entry_t match;
            while (spw_proto_next_match(&out, &offset, &match) == 1)
                ;
        }
        else if (out.cmd == SPW_CMD_STATE) {
            spw_service_figures_t figures;
            while (spw_proto_next_figures(&out, &offset, &figures) == 1)
                ;
        }
        //  A decoded view points into the frames: touch every byte it names.
        volatile uint8_t sink = 0;
        for (size_t i = 0; out.service && i < out.service_len; i++)
            sink ^= (uint8_t) out.service[i];
        for (size_t i = 0; out.text && i < out.text_len; i++)
            sink ^= (uint8_t) out.text[i];
        (void) sink;
    }
    spw_msg_reset(&msg);
    return 0;
}
