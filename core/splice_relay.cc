// The plain TCP <-> TCP relay (core/relay.h): bytes move socket -> pipe -> socket with splice(2),
// so the kernel passes page references and no payload byte is copied to user space.
#include <fcntl.h>

#include "core/relay.h"
#include "core/splice_pump.h"

namespace tng {

Task<RelayStats> Relay(TcpStream& a, TcpStream& b) {
  SplicePipe ab, ba;
  if (!ab.Open() || !ba.Open()) {
    // Out of descriptors for pipes: relay through user space instead.
    co_return co_await RelayCopying(a, b);
  }
  // splice(2) from a socket blocks unless the socket itself is non-blocking; from here on the
  // sockets are only spliced, polled and shut down.
  SetNonBlocking(a.fd());
  SetNonBlocking(b.fd());
  RelayStats stats;
  internal::RelayJoin join;
  Spawn(SplicePump(a, b, ab, stats.a_to_b, stats.a_error, stats.b_error, join));
  Spawn(SplicePump(b, a, ba, stats.b_to_a, stats.b_error, stats.a_error, join));
  co_await join.Wait();
  co_return stats;
}

}  // namespace tng
