// Outbound connections of captured traffic: dialled from a socket carrying SO_MARK so_mark, which
// the capture rules let pass, so the gateway's own connection is not captured a second time.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "core/connection_scope.h"
#include "core/net.h"
#include "core/reactor.h"
#include "core/task.h"
#include "core/tcp_stream.h"

namespace tng::netfilter {

// Connects to `dst` within `timeout`; errors name the destination (and the capability when
// SO_MARK is not permitted).
Task<absl::StatusOr<TcpStream>> DialMarked(Reactor& reactor, SocketAddress dst, uint32_t so_mark,
                                           Duration timeout, ConnectionScope* scope);

}  // namespace tng::netfilter
