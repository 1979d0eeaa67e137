/* fuzz-decoder.c - libFuzzer target for everything that parses peer bytes:
 * the stream framer, header and full message validation, hello checks.
 * Input: byte 0 = receiving node id, byte 1 = node count, then a stream. */
#include <stdint.h>
#include <string.h>

#include "handshake.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    struct dsm_proto_limits lim = {
        .num_nodes = 1 + data[1] % DSM_MAX_NODES,
        .total_pages = 1000,
    };
    lim.self = data[0] % lim.num_nodes;
    data += 2;
    size -= 2;

    struct dsm_hs_params p;
    memset(&p, 0, sizeof(p));
    p.self = lim.self;
    p.num_nodes = lim.num_nodes;
    p.nregions = 2;
    p.region_sizes[0] = 1 << 20;
    p.region_sizes[1] = 1 << 16;
    char err[256];
    if (size >= sizeof(struct dsm_hello)) {
        struct dsm_hello h;
        memcpy(&h, data, sizeof(h));
        (void)dsm_hello_check(&p, &h, -1, err, sizeof(err));
    }

    size_t off = 0;
    while (off < size) {
        long len = dsm_frame_length(data + off, size - off, err, sizeof(err));
        if (len <= 0) {
            break;
        }
        struct dsm_msg_hdr h;
        memcpy(&h, data + off, sizeof(h));
        for (int peer = 0; peer < lim.num_nodes && peer < 4; peer++) {
            if (dsm_msg_validate(&h, peer, &lim, err, sizeof(err)) == 0) {
                /* a valid frame: its payload must lie inside the input */
                volatile uint8_t sink = 0;
                const uint8_t *pl = data + off + sizeof(h);
                for (uint32_t i = 0; i < h.payload_len; i += 512) {
                    sink ^= pl[i];
                }
                (void)sink;
            }
        }
        off += (size_t)len;
    }
    return 0;
}
