// Dropping privileges once the capture rules are in: the gateway keeps only what removing the
// rules at exit and the captured connections' sockets need, and gives up every other capability
// for good (effective, permitted, inheritable, ambient and bounding sets).
//
// Kept: CAP_NET_ADMIN (removing the chains and policy routes, SO_MARK, IP_TRANSPARENT) and
// CAP_NET_RAW (libiptc talks to the kernel over a raw socket). CAP_NET_BIND_SERVICE is not kept:
// every listener is bound before the drop. The uid stays as it is (files such as the xtables lock
// and the AA socket keep working by ownership); without CAP_DAC_OVERRIDE, CAP_SYS_ADMIN,
// CAP_SETUID and the rest, a compromised gateway cannot regain them.
#pragma once

#include "absl/status/status.h"

namespace tng::netfilter {

// Drops every capability but CAP_NET_ADMIN and CAP_NET_RAW. Errors name the step that failed.
absl::Status DropToCaptureCapabilities();

}  // namespace tng::netfilter
