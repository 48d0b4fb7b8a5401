// The durable-agent example's sample workflow, "case-resolution" version 1: resolve a refund request
// against the order system in eleven or more journaled steps —
//   get_case, lookup_order, check_refund_policy, read_memory_notes (context),
//   model: draft a reply and state a reason,
//   set_case_status in_progress,
//   issue_refund (when eligible; the spec may require approval, the policy may forbid),
//   add_case_note, write_memory_note, set_case_status resolved | escalated,
//   and authoritative outcome checks: lookup_order and get_case confirm in the system of
//   record that the refund and the status took effect.
// Input: {"case_id": "CASE-1"} (the support case to resolve).
#pragma once

#include "agent/workflow.h"

namespace keel::samples {

agent::WorkflowDefinition case_resolution_workflow();

}  // namespace keel::samples
