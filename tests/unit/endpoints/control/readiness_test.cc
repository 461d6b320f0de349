#include "endpoints/control/readiness.h"

#include <gtest/gtest.h>

namespace tng {
namespace {

TEST(ReadinessTest, NothingRegisteredIsReady) {
  Readiness r;
  EXPECT_TRUE(r.AllReady());
  EXPECT_EQ(r.NotReadyReasons(), "");
}

TEST(ReadinessTest, ConditionsStartNotReadyAndReportTheirReason) {
  Readiness r;
  int a = r.Register("add_ingress[0]: attestation evidence");
  int b = r.Register("add_egress[0]: attestation evidence", "AA unreachable");
  EXPECT_FALSE(r.AllReady());
  EXPECT_EQ(r.NotReadyReasons(),
            "add_ingress[0]: attestation evidence: not yet available\n"
            "add_egress[0]: attestation evidence: AA unreachable\n");
  r.Set(a, true, "ignored");
  EXPECT_EQ(r.NotReadyReasons(), "add_egress[0]: attestation evidence: AA unreachable\n");
  r.Set(b, true);
  EXPECT_TRUE(r.AllReady());
  r.Set(a, false, "evidence expired");
  EXPECT_EQ(r.NotReadyReasons(), "add_ingress[0]: attestation evidence: evidence expired\n");
}

}  // namespace
}  // namespace tng
