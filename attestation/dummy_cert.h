// The fixed P-256 self-signed certificate and key that a side with nothing to attest presents
// (no_ra, or verify-only): the peer accepts any certificate from such a side, so it is public.
#pragma once

#include <cstdint>
#include <span>

namespace tng::attestation {

// Generated once (OpenSSL 3.0) and embedded as DER; regenerating it changes nothing on the wire
// that a peer checks:
//
//   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes
//     -keyout key.pem -out cert.pem -sha256 -days 36500
//     -subj "/CN=TNG/O=Inclavare Containers"
//     -addext "basicConstraints=critical,CA:FALSE" -addext "keyUsage=critical,digitalSignature"
//   (one command, wrapped here)
//   openssl x509 -in cert.pem -outform DER -out cert.der
//   openssl pkcs8 -topk8 -nocrypt -in key.pem -outform DER -out key.der
//
// Subject and issuer CN=TNG, O=Inclavare Containers; valid 2026-11-22 to 2126-10-29; SHA-256 of
// the certificate DER 6dd4db2cd1748a5ae3f7c20f24caf84246e09e3617ca2ecc496138d64e92c684.
//
// TNG (Rust) embeds its own dummy pair (tng/src/tunnel/utils/certs/servercert.pem): P-256,
// subject "CN=TNG Dummy Cert,O=Inclavare Containers" (a single CN, an artefact of its -subj
// string), 365000 days, CA:TRUE. Its peers never inspect that certificate (TNG's dummy verifier
// accepts anything), so we use our own key rather than a copy of TNG's, with a proper
// end-entity profile (CA:FALSE, digitalSignature).
std::span<const uint8_t> DummyCertDer();
// PKCS#8 PrivateKeyInfo of the certificate's key.
std::span<const uint8_t> DummyKeyDer();

}  // namespace tng::attestation
