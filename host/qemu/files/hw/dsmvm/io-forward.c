/*
 * dsmvm: port and MMIO accesses of nodes that do not host the devices.
 *
 * On such a node, catch-all regions are laid over the whole port space and
 * over every MMIO hole of the guest's physical address space. The accesses
 * that land there (from TCG, from KVM exits and from QEMU alike) are sent to
 * the device node, carried out there, and answered. The local APIC page and
 * the hypercall doorbell stay local: they act on the calling vCPU.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qapi/error.h"
#include "hw/boards.h"
#include "hw/i386/x86.h"
#include "hw/pci/pci_host.h"
#include "hw/pci-host/i440fx.h"
#include "exec/address-spaces.h"
#include "exec/memory.h"
#include "internal.h"
#include "trace.h"
#include "../../dsmvm-hypercalls/dsmvm-hypercall.h"

#define DSMVM_IO_TIMEOUT_MS 5000
#define APIC_MMIO_BASE      0xfee00000ULL
#define APIC_MMIO_END       0xfef00000ULL
#define LOW_MMIO_END        0xff000000ULL  /* the BIOS ROM above stays local */
#define HIGH_MMIO_SPAN      (1ULL << 40)

static uint64_t dsmvm_forward(DsmvmOverlay *o, hwaddr addr, uint64_t data,
                              unsigned size, bool is_write, MemTxResult *res)
{
    DsmvmNode *n = o->node;
    DsmvmMsgIoReq req = {
        .h = { DSMVM_WIRE_MAGIC, DSMVM_MSG_IO_REQ },
        .addr = o->base + addr,
        .data = data,
        .space = o->space,
        .size = size,
        .is_write = is_write,
    };
    DsmvmMsgIoReply reply;

    qatomic_inc(&n->counters.io_forwarded);
    trace_dsmvm_io_forward(o->space, req.addr, size, is_write, data);
    dsmvm_request(n, n->cluster->device_node, &req, sizeof(req), &req.seq,
                  &reply, sizeof(reply), DSMVM_IO_TIMEOUT_MS, "an I/O access");
    *res = reply.result;
    return reply.data;
}

static MemTxResult dsmvm_overlay_read(void *opaque, hwaddr addr, uint64_t *data,
                                      unsigned size, MemTxAttrs attrs)
{
    MemTxResult res;

    *data = dsmvm_forward(opaque, addr, 0, size, false, &res);
    return res;
}

static MemTxResult dsmvm_overlay_write(void *opaque, hwaddr addr, uint64_t data,
                                       unsigned size, MemTxAttrs attrs)
{
    MemTxResult res;

    dsmvm_forward(opaque, addr, data, size, true, &res);
    return res;
}

static const MemoryRegionOps dsmvm_overlay_ops = {
    .read_with_attrs = dsmvm_overlay_read,
    .write_with_attrs = dsmvm_overlay_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 8, .unaligned = true },
    .impl = { .min_access_size = 1, .max_access_size = 8, .unaligned = true },
};

static void add_overlay(DsmvmNode *n, int *count, MemoryRegion *root,
                        uint32_t space, uint64_t start, uint64_t end,
                        const char *name)
{
    DsmvmOverlay *o;

    if (end <= start) {
        return;
    }
    assert(*count < DSMVM_IO_OVERLAYS);
    o = &n->overlays[*count];
    o->node = n;
    o->space = space;
    o->base = start;
    memory_region_init_io(&o->mr, OBJECT(n), &dsmvm_overlay_ops, o, name,
                          end - start);
    /*
     * Above everything the machine maps there: these addresses belong to the
     * device node.
     */
    memory_region_add_subregion_overlap(root, start, &o->mr, INT_MAX);
    (*count)++;
}

static void dsmvm_io_install_overlays(DsmvmNode *n)
{
    X86MachineState *x86ms = X86_MACHINE(qdev_get_machine());
    uint64_t low_ram_end = x86ms->below_4g_mem_size;
    uint64_t high_ram_end = 0x100000000ULL + x86ms->above_4g_mem_size;
    int count = 0;

    add_overlay(n, &count, get_system_io(), DSMVM_SPACE_IO,
                0, DSMVM_DOORBELL_PORT_DEFAULT,
                "dsmvm-forward-io-low");
    add_overlay(n, &count, get_system_io(), DSMVM_SPACE_IO,
                DSMVM_DOORBELL_PORT_DEFAULT + 4, 0x10000,
                "dsmvm-forward-io-high");
    add_overlay(n, &count, get_system_memory(), DSMVM_SPACE_MEMORY,
                low_ram_end, APIC_MMIO_BASE,
                "dsmvm-forward-mmio-low");
    add_overlay(n, &count, get_system_memory(), DSMVM_SPACE_MEMORY,
                APIC_MMIO_END, LOW_MMIO_END,
                "dsmvm-forward-mmio-top");
    add_overlay(n, &count, get_system_memory(), DSMVM_SPACE_MEMORY,
                high_ram_end, high_ram_end + HIGH_MMIO_SPAN,
                "dsmvm-forward-mmio-high");
}

/* The i440FX's Programmable Attribute Map: 0xc0000-0xfffff in 7 registers. */
#define I440FX_PAM_BASE  0x59
#define I440FX_PAM_COUNT 7
#define PAM_BOTH_RAM_RW  0x33

/*
 * The firmware shadows itself into RAM below 1 MB and keeps its data there,
 * switching the chipset's PAM registers on the device node, whose chipset it
 * programs. vCPUs here must see that same RAM (shared through the DSM), not
 * the ROM a fresh chipset maps: an AP started by the firmware runs code and
 * reads data from there. Called whenever the guest starts running, since a
 * reset restores the chipset's defaults.
 */
void dsmvm_io_bios_area_as_ram(DsmvmNode *n)
{
    PCIDevice *host =
        PCI_DEVICE(object_resolve_path_type("", TYPE_I440FX_PCI_DEVICE, NULL));

    assert(host);   /* dsmvm_io_install() checked */
    for (int i = 0; i < I440FX_PAM_COUNT; i++) {
        pci_host_config_write_common(host, I440FX_PAM_BASE + i,
                                     pci_config_size(host),
                                     PAM_BOTH_RAM_RW, 1);
    }
}

/* Device node, main loop: carry out another node's access and answer it. */
static void dsmvm_io_serve(DsmvmNode *n, int src, const void *msg)
{
    const DsmvmMsgIoReq *req = msg;
    AddressSpace *as = req->space == DSMVM_SPACE_IO ? &address_space_io
                                                    : &address_space_memory;
    DsmvmMsgIoReply reply = {
        .h = { DSMVM_WIRE_MAGIC, DSMVM_MSG_IO_REPLY },
        .seq = req->seq,
    };
    uint8_t buf[8] = { 0 };

    if (req->is_write) {
        stn_le_p(buf, req->size, req->data);
        reply.result = address_space_write(as, req->addr,
                                           MEMTXATTRS_UNSPECIFIED, buf,
                                           req->size);
    } else {
        reply.result = address_space_read(as, req->addr,
                                          MEMTXATTRS_UNSPECIFIED, buf,
                                          req->size);
        reply.data = ldn_le_p(buf, req->size);
    }
    n->counters.io_served++;
    trace_dsmvm_io_serve(src, req->space, req->addr, req->size, req->is_write,
                         reply.data);
    dsmvm_send(n, src, &reply, sizeof(reply));
}

/* Receive thread: the device node's answer to dsmvm_forward(). */
static void dsmvm_io_reply(DsmvmNode *n, int src, const void *msg)
{
    if (!dsmvm_complete_request(n, ((const DsmvmMsgIoReply *)msg)->seq, msg,
                                sizeof(DsmvmMsgIoReply))) {
        dsmvm_fatal(n, "node%d answered an I/O request nobody made", src);
    }
}

bool dsmvm_io_install(DsmvmNode *n, Error **errp)
{
    if (dsmvm_is_device_node(n)) {
        dsmvm_register_handler(n, DSMVM_MSG_IO_REQ, DSMVM_CTX_MAIN_LOOP,
                               sizeof(DsmvmMsgIoReq), dsmvm_io_serve);
        return true;
    }
    /* dsmvm_io_bios_area_as_ram() programs its PAM registers. */
    if (!object_resolve_path_type("", TYPE_I440FX_PCI_DEVICE, NULL)) {
        error_setg(errp, "the machine has no i440FX host bridge; "
                   "only -machine pc is supported");
        return false;
    }
    dsmvm_register_handler(n, DSMVM_MSG_IO_REPLY, DSMVM_CTX_RECEIVE,
                           sizeof(DsmvmMsgIoReply), dsmvm_io_reply);
    dsmvm_io_install_overlays(n);
    return true;
}
