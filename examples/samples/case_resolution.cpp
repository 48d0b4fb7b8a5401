#include "samples/case_resolution.h"

#include <fmt/format.h>

#include <cmath>

#include "core/json.h"
#include "core/utf8.h"

namespace keel::samples {
namespace {

constexpr const char* kSystemPrompt =
    "You are a support agent for an online store. Write a short, polite reply to the customer that says what "
    "happens with their request. Use only the facts given. One to three sentences.";

std::string clip(const std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  return text.substr(0, complete_utf8_prefix(std::string_view(text).substr(0, max_bytes))) + "...";
}

Result<Json> resolve(agent::WorkflowContext& ctx) {
  const std::string case_id = ctx.input().value("case_id", ctx.case_info().id);

  // Context, with provenance (every read is a journaled step the approver sees).
  KEEL_ASSIGN_OR_RETURN(Json support_case, ctx.call_tool("get_case", {{"case_id", case_id}}));
  ctx.state()["status"] = support_case["status"];
  const std::string order_id = support_case["order_id"].get<std::string>();
  const std::string customer = support_case["customer_id"].get<std::string>();
  KEEL_ASSIGN_OR_RETURN(Json order, ctx.call_tool("lookup_order", {{"order_id", order_id}}));
  KEEL_ASSIGN_OR_RETURN(Json policy, ctx.call_tool("check_refund_policy", {{"order_id", order_id}}));
  KEEL_ASSIGN_OR_RETURN(Json memory, ctx.call_tool("read_memory_notes", {{"subject", customer}}));

  std::string facts = fmt::format(
      "Customer message: {}\nOrder {}: {}, total {:.2f} {}.\nRefund policy: {} ({}).\nEarlier notes about this customer: {}.",
      support_case["message"].get<std::string>(), order_id, order["items"].get<std::string>(), order["total"].get<double>(),
      order["currency"].get<std::string>(), policy["eligible"].get<bool>() ? "eligible" : "not eligible",
      policy["rule"].get<std::string>(), memory["notes"].empty() ? "none" : std::to_string(memory["notes"].size()));
  KEEL_ASSIGN_OR_RETURN(agent::ModelReply reply, ctx.call_model("draft_reply", {kSystemPrompt, facts, 96, 1}));
  std::string reply_text = clip(reply.text.empty() ? "(the model gave no reply)" : reply.text, 600);

  KEEL_ASSIGN_OR_RETURN(Json started, ctx.call_tool("set_case_status", {{"case_id", case_id}, {"status", "in_progress"}}));
  ctx.state()["status"] = started["to"];

  // The decision.
  std::string decision = "no_refund";
  std::string outcome_text = fmt::format("No refund: {}.", policy["rule"].get<std::string>());
  double refunded = 0;
  std::string final_status = "resolved";
  if (policy["eligible"].get<bool>()) {
    const double amount = policy["amount"].get<double>();
    Json refund_args = {{"case_id", case_id}, {"order_id", order_id}, {"amount", amount},
                        {"reason", clip(fmt::format("{}: {}", case_id, support_case["message"].get<std::string>()), 300)}};
    auto refund = ctx.call_tool("issue_refund", refund_args, {fmt::format("policy: {}; drafted reply: {}", policy["rule"].get<std::string>(), reply_text)});
    if (refund.ok()) {
      decision = "refunded";
      refunded = (*refund)["amount"].get<double>();
      outcome_text = fmt::format("Refunded {:.2f} {} (refund {}).", refunded, order["currency"].get<std::string>(),
                                 (*refund)["refund_id"].get<int64_t>());
    } else if (refund.status().code() == StatusCode::permission_denied) {
      // Forbidden by policy or denied by an approver: a person takes it from here.
      decision = "escalated";
      final_status = "escalated";
      outcome_text = fmt::format("Refund of {:.2f} not made: {}. Escalated to a person.", amount, refund.status().message());
    } else {
      return refund.status();
    }
  }

  KEEL_ASSIGN_OR_RETURN(Json note, ctx.call_tool("add_case_note",
                                                 {{"case_id", case_id}, {"text", clip(fmt::format("{}\nReply sent: {}", outcome_text, reply_text), 3900)}}));
  KEEL_ASSIGN_OR_RETURN(Json remembered, ctx.call_tool("write_memory_note",
                                                       {{"subject", customer}, {"text", clip(fmt::format("{}: {}", case_id, outcome_text), 3900)}}));
  KEEL_ASSIGN_OR_RETURN(Json closed, ctx.call_tool("set_case_status", {{"case_id", case_id}, {"status", final_status}}));
  ctx.state()["status"] = closed["to"];

  // Authoritative outcome checks: the system of record, not our journal, says what happened.
  KEEL_ASSIGN_OR_RETURN(Json order_after, ctx.call_tool("lookup_order", {{"order_id", order_id}}));
  double expected = std::round((order["refunded_total"].get<double>() + refunded) * 100) / 100;
  if (std::abs(order_after["refunded_total"].get<double>() - expected) > 0.005) {
    return Status::failed_precondition(fmt::format("outcome check failed: order {} shows {:.2f} refunded, expected {:.2f}", order_id,
                                                   order_after["refunded_total"].get<double>(), expected));
  }
  KEEL_ASSIGN_OR_RETURN(Json case_after, ctx.call_tool("get_case", {{"case_id", case_id}}));
  if (case_after["status"] != final_status) {
    return Status::failed_precondition(fmt::format("outcome check failed: case {} is {}, expected {}", case_id,
                                                   case_after["status"].get<std::string>(), final_status));
  }
  return Json{{"case_id", case_id},
              {"decision", decision},
              {"refunded", refunded},
              {"status", final_status},
              {"reply", reply_text},
              {"note_id", note["note_id"]},
              {"memory_note_id", remembered["note_id"]},
              {"verified", true}};
}

}  // namespace

agent::WorkflowDefinition case_resolution_workflow() {
  return {"case-resolution", 1, "resolve a refund request against the order system", resolve};
}

}  // namespace keel::samples
