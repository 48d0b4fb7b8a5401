// Connection bookkeeping: the total cap, the probe-only slots past it, the per-peer cap, and
// slots coming back when connections close.
#include <gtest/gtest.h>

#include "serve/connection_limits.h"

namespace keel::serve {
namespace {

TEST(ConnectionTable, PastTheTotalCapOnlyProbeSlotsThenRefusals) {
  ConnectionLimits l;
  l.max_connections = 2;
  l.probe_connections = 1;
  l.max_connections_per_peer = 0;
  ConnectionTable t(l);
  EXPECT_EQ(t.open("a"), ConnectionAdmission::serve);
  EXPECT_EQ(t.open("b"), ConnectionAdmission::serve);
  EXPECT_EQ(t.open("c"), ConnectionAdmission::probes_only);
  EXPECT_EQ(t.open("d"), ConnectionAdmission::refuse_total);
  EXPECT_EQ(t.open_connections(), 3);
  EXPECT_EQ(t.peer_connections("d"), 0) << "a refused connection is not counted";
  t.close("a", ConnectionAdmission::serve);
  EXPECT_EQ(t.open("d"), ConnectionAdmission::serve) << "a closed connection frees its slot";
  t.close("c", ConnectionAdmission::probes_only);
  EXPECT_EQ(t.probe_connections(), 0);
  EXPECT_EQ(t.open("e"), ConnectionAdmission::probes_only);
}

TEST(ConnectionTable, APeerAtItsCapIsRefusedEvenAProbeSlot) {
  ConnectionLimits l;
  l.max_connections = 10;
  l.probe_connections = 5;
  l.max_connections_per_peer = 2;
  ConnectionTable t(l);
  EXPECT_EQ(t.open("10.0.0.1"), ConnectionAdmission::serve);
  EXPECT_EQ(t.open("10.0.0.1"), ConnectionAdmission::serve);
  EXPECT_EQ(t.open("10.0.0.1"), ConnectionAdmission::refuse_per_peer);
  EXPECT_EQ(t.open("10.0.0.2"), ConnectionAdmission::serve);
  EXPECT_EQ(t.peer_connections("10.0.0.1"), 2);
  t.close("10.0.0.1", ConnectionAdmission::serve);
  EXPECT_EQ(t.peer_connections("10.0.0.1"), 1);
  EXPECT_EQ(t.open("10.0.0.1"), ConnectionAdmission::serve);
  // Refusals leave no trace; closing what was refused changes nothing.
  t.close("10.0.0.3", ConnectionAdmission::refuse_per_peer);
  EXPECT_EQ(t.open_connections(), 3);
}

TEST(ConnectionTable, ProbePaths) {
  for (const char* p : {"/livez", "/readyz", "/startupz", "/metrics"})
    EXPECT_TRUE(is_probe_path(p)) << p;
  for (const char* p : {"/v1/models", "/v1/chat/completions", "/", "/livez/x"})
    EXPECT_FALSE(is_probe_path(p)) << p;
}

}  // namespace
}  // namespace keel::serve
