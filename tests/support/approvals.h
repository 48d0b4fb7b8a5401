// Signed approval decisions for tests, made with the example's demo key
// (examples/durable-agent/supervisor.demo.key, registered for `supervisor` in
// examples/durable-agent.yaml) or any other key. Header-only: include it from tests that link
// keel_agent.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "agent/approval.h"
#include "agent/case_runner.h"
#include "support/test_support.h"

namespace keel::testing {

inline agent::ApproverKey demo_supervisor_key() {
  auto key = agent::read_approver_key(source_dir() + "/examples/durable-agent/supervisor.demo.key");
  EXPECT_TRUE(key.ok()) << key.status().to_string();
  return key.ok() ? *key : agent::ApproverKey{};
}

//! The statement `principal` makes about pending request `p`, with the hash the request shows.
inline agent::ApprovalStatement decision_on(const agent::PendingApproval& p,
                                            const std::string& principal, bool approve,
                                            int64_t time_ns, std::string note = "") {
  agent::ApprovalStatement st;
  st.case_id = p.case_id;
  st.step = p.step;
  st.tool = p.tool;
  st.args_sha256 = p.args_sha256;
  st.approve = approve;
  st.principal = principal;
  st.time_ns = time_ns;
  st.note = std::move(note);
  return st;
}

//! The key holder's decision on `p`, signed with its key.
inline agent::ApprovalSubmission signed_decision(const agent::PendingApproval& p, bool approve,
                                                 int64_t time_ns, const agent::ApproverKey& key,
                                                 std::string note = "") {
  return agent::sign_approval(decision_on(p, key.principal, approve, time_ns, std::move(note)),
                              key.keys.secret_key, "test");
}

}  // namespace keel::testing
