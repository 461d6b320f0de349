// What an RA-TLS handshake established about both ends, carried with the stream for the access
// log: the TEE this side attested as, and the peer's verified TEE and policies.
#pragma once

#include <string>
#include <vector>

namespace tng::tunnel {

struct TunnelAttestation {
  std::string local_tee;  // empty: this side did not attest
  bool peer_verified = false;
  std::string peer_tee;
  std::vector<std::string> peer_policy_ids;
};

}  // namespace tng::tunnel
