// The libopenvswitch headers the sync layer uses, in the order they must be included (private).
#pragma once

#include <endian.h>

extern "C" {
// First, in a block of its own: the other headers need enum ofperr.
#include <openvswitch/ofp-errors.h>

#include <openvswitch/dynamic-string.h>
#include <openvswitch/match.h>
#include <openvswitch/ofp-actions.h>
#include <openvswitch/ofp-bundle.h>
#include <openvswitch/ofp-flow.h>
#include <openvswitch/ofp-group.h>
#include <openvswitch/ofp-msgs.h>
#include <openvswitch/ofp-print.h>
#include <openvswitch/ofp-protocol.h>
#include <openvswitch/ofp-util.h>
#include <openvswitch/ofpbuf.h>
#include <openvswitch/vconn.h>
#include <openvswitch/vlog.h>
}
