/*
 * Stand-in for QEMU's qemu/osdep.h when a file of hw/dsmvm that needs no
 * more than the C library is built outside QEMU (fuzzing): the few
 * standard headers the real one would have brought in.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef DSMVM_FUZZ_SHIM_OSDEP_H
#define DSMVM_FUZZ_SHIM_OSDEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#endif
