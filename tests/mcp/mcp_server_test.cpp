// The MCP server's protocol logic (lifecycle, errors, pagination) with a small provider, and
// the agent's tools over MCP against the real example deployment: idempotency keys, pending
// approvals, policy refusals and annotations.
#include <gtest/gtest.h>

#include <set>

#include "agent/agent_deployment.h"
#include "contract/spec_parser.h"
#include "core/json.h"
#include "mcp/agent_tools.h"
#include "mcp/jsonrpc.h"
#include "mcp/mcp_server.h"
#include "support/approvals.h"
#include "samples/order_system.h"
#include "samples/samples.h"
#include "support/test_support.h"

namespace keel::mcp {
namespace {

// The sample order system behind a deployment (the example's system of record).
samples::OrderSystem* orders(agent::AgentDeployment& d) {
  return dynamic_cast<samples::OrderSystem*>(d.system_of_record());
}

class CountingTools : public ToolProvider {
 public:
  std::vector<Json> list(const std::string&) override {
    std::vector<Json> out;
    for (int i = 0; i < 7; ++i) out.push_back({{"name", "t" + std::to_string(i)}, {"inputSchema", {{"type", "object"}}}});
    return out;
  }
  Result<ToolCallOutcome> call(const std::string& principal, const std::string& name, const Json& args) override {
    if (name == "secret") return ToolCallOutcome{Json(), true, "nope"};
    if (name.rfind("t", 0) != 0) return Status::not_found("no such tool");
    return ToolCallOutcome{{{"content", {{{"type", "text"}, {"text", principal + ":" + dump_json(args)}}}}}};
  }
};

Json send(McpServer& s, Session& session, const std::string& text, int* status = nullptr) {
  ServerReply r = s.handle(text, session);
  if (status) *status = r.http_status;
  if (!r.body) return nullptr;
  auto j = parse_json(*r.body);
  EXPECT_TRUE(j.ok()) << *r.body;
  return j.ok() ? *j : Json();
}

std::string req(int id, const std::string& method, const Json& params = Json::object()) { return request(id, method, params); }

TEST(McpServer, LifecycleErrorsAndPagination) {
  McpServer s("keel", "1", "be careful");
  s.add_tools(std::make_shared<CountingTools>());
  s.set_page_size(3);
  Session session;
  session.principal = "agent";
  // Before initialize only ping is answered.
  EXPECT_EQ(send(s, session, req(1, "tools/list"))["error"]["code"], rpc_error::invalid_request);
  EXPECT_TRUE(send(s, session, req(2, "ping"))["result"].is_object());
  Json init = send(s, session, req(3, "initialize", {{"protocolVersion", "2025-06-18"}, {"capabilities", Json::object()},
                                                     {"clientInfo", {{"name", "t"}, {"version", "1"}}}}));
  EXPECT_EQ(init["result"]["protocolVersion"], "2025-06-18");  // a supported older revision is kept
  EXPECT_TRUE(init["result"]["capabilities"].contains("tools"));
  EXPECT_FALSE(init["result"]["capabilities"].contains("resources"));
  EXPECT_EQ(init["result"]["instructions"], "be careful");
  Session other;
  Json newer = send(s, other, req(1, "initialize", {{"protocolVersion", "2099-01-01"}}));
  EXPECT_EQ(newer["result"]["protocolVersion"], std::string(kLatestProtocol));
  int status = 0;
  EXPECT_TRUE(send(s, session, notification("notifications/initialized", Json::object()), &status).is_null());
  EXPECT_EQ(status, 202);
  EXPECT_TRUE(session.ready);
  // Pages of three, then a bad cursor.
  std::vector<std::string> names;
  Json params = Json::object();
  for (int page = 0; page < 10; ++page) {
    Json r = send(s, session, req(10 + page, "tools/list", params))["result"];
    for (const auto& t : r["tools"]) names.push_back(t["name"]);
    if (!r.contains("nextCursor")) break;
    params["cursor"] = r["nextCursor"];
  }
  EXPECT_EQ(names.size(), 7u);
  EXPECT_EQ(send(s, session, req(30, "tools/list", {{"cursor", "bogus"}}))["error"]["code"], rpc_error::invalid_params);
  EXPECT_EQ(send(s, session, req(31, "tools/list", {{"cursor", "99"}}))["error"]["code"], rpc_error::invalid_params);
  // Calls.
  Json ok = send(s, session, req(40, "tools/call", {{"name", "t1"}, {"arguments", {{"a", 1}}}}));
  EXPECT_EQ(ok["result"]["content"][0]["text"], "agent:{\"a\":1}");
  EXPECT_EQ(send(s, session, req(41, "tools/call", {{"name", "nope"}}))["error"]["code"], rpc_error::invalid_params);
  EXPECT_EQ(send(s, session, req(42, "tools/call", {{"arguments", 1}}))["error"]["code"], rpc_error::invalid_params);
  EXPECT_EQ(send(s, session, req(43, "tools/call", {{"name", "t1"}, {"arguments", 5}}))["error"]["code"], rpc_error::invalid_params);
  Json forbidden = send(s, session, req(44, "tools/call", {{"name", "secret"}}), &status);
  EXPECT_EQ(status, 403);
  EXPECT_TRUE(forbidden.contains("error"));
  EXPECT_EQ(send(s, session, req(45, "nope/nope"))["error"]["code"], rpc_error::method_not_found);
  EXPECT_EQ(send(s, session, req(46, "resources/read", {{"uri", "keel-doc:x"}}))["error"]["code"], rpc_error::resource_not_found);
  // Malformed messages.
  EXPECT_EQ(send(s, session, "{oops")["error"]["code"], rpc_error::parse_error);
  EXPECT_EQ(send(s, session, R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])")["error"]["code"], rpc_error::invalid_request);
  EXPECT_EQ(send(s, session, R"({"jsonrpc":"1.0","id":1,"method":"ping"})")["error"]["code"], rpc_error::invalid_request);
  EXPECT_EQ(send(s, session, R"({"jsonrpc":"2.0","id":{"x":1},"method":"ping"})")["error"]["code"], rpc_error::invalid_request);
  EXPECT_EQ(send(s, session, R"({"jsonrpc":"2.0","id":7,"method":"ping","params":[1]})")["error"]["code"], rpc_error::invalid_request);
  Json big = send(s, session, std::string(kMaxMessageBytes + 1, ' '));
  EXPECT_EQ(big["error"]["code"], rpc_error::invalid_request);
  // Cancellation of something already answered is accepted quietly.
  EXPECT_TRUE(send(s, session, notification("notifications/cancelled", {{"requestId", 40}}), &status).is_null());
  EXPECT_EQ(status, 202);
}

TEST(McpServer, MalformedInitializeIsRefusedAndLeavesTheSessionNew) {
  McpServer s("keel", "1", "");
  s.add_tools(std::make_shared<CountingTools>());
  Session session;
  for (const Json& params :
       {Json::object(), Json{{"protocolVersion", 2025}}, Json{{"protocolVersion", nullptr}},
        Json{{"protocolVersion", "2025-11-25"}, {"clientInfo", "me"}},
        Json{{"protocolVersion", "2025-11-25"}, {"capabilities", 5}}}) {
    SCOPED_TRACE(params.dump());
    int status = 0;
    EXPECT_EQ(send(s, session, req(1, "initialize", params), &status)["error"]["code"],
              rpc_error::invalid_params);
    EXPECT_EQ(status, 400);
    EXPECT_FALSE(session.initialized);
  }
  EXPECT_TRUE(send(s, session, req(2, "initialize", {{"protocolVersion", "2025-11-25"}}))["result"]
                  .is_object());
  EXPECT_TRUE(session.initialized);
}

// Every provider method that throws: the client gets -32603, the server goes on.
class ThrowingTools : public ToolProvider {
 public:
  std::vector<Json> list(const std::string&) override {
    throw std::runtime_error("tools/list bug");
  }
  Result<ToolCallOutcome> call(const std::string&, const std::string&, const Json&) override {
    throw std::logic_error("call bug");
  }
};

class ThrowingResources : public ResourceProvider {
 public:
  Result<std::vector<Json>> list() override { throw std::out_of_range("resources/list bug"); }
  Result<Json> read(const std::string&) override {
    return Json::object().at("missing");
  }  // nlohmann throws
};

class ThrowingPrompts : public PromptProvider {
 public:
  explicit ThrowingPrompts(bool in_list) : in_list_(in_list) {}
  std::vector<Json> list() override {
    if (in_list_) throw std::bad_alloc();
    return {};
  }
  Result<Json> get(const std::string&, const Json&) override { throw 42; }

 private:
  bool in_list_;
};

TEST(McpServer, AHandlerThatThrowsIsAnInternalErrorAndTheServerGoesOn) {
  McpServer s("keel", "1", "");
  s.add_tools(std::make_shared<ThrowingTools>());
  s.add_resources(std::make_shared<ThrowingResources>());
  s.add_prompts(std::make_shared<ThrowingPrompts>(false));
  s.add_prompts(std::make_shared<ThrowingPrompts>(true));
  Session session;
  ASSERT_TRUE(send(s, session, req(1, "initialize", {{"protocolVersion", "2025-11-25"}}))["result"]
                  .is_object());
  int id = 10;
  for (const auto& [method, params] :
       std::vector<std::pair<std::string, Json>>{{"tools/list", Json::object()},
                                                 {"tools/call", {{"name", "x"}}},
                                                 {"resources/list", Json::object()},
                                                 {"resources/read", {{"uri", "x:y"}}},
                                                 {"prompts/list", Json::object()},
                                                 {"prompts/get", {{"name", "p"}}}}) {
    SCOPED_TRACE(method);
    Json r = send(s, session, req(++id, method, params));
    EXPECT_EQ(r["error"]["code"], rpc_error::internal_error) << r.dump();
    EXPECT_EQ(r["id"], id);
    EXPECT_TRUE(send(s, session, req(99, "ping"))["result"].is_object());
  }
}

TEST(McpServer, WorkTouchesNoSessionAndKeepsThePrincipalItWasPreparedFor) {
  McpServer s("keel", "1", "");
  s.add_tools(std::make_shared<CountingTools>());
  auto session = std::make_unique<Session>();
  session->principal = "agent";
  ASSERT_TRUE(send(s, *session, req(1, "initialize", {{"protocolVersion", "2025-11-25"}}))["result"]
                  .is_object());
  // Lifecycle and cheap methods are answered at once; provider methods come back as work.
  EXPECT_TRUE(s.prepare(req(2, "ping"), *session).reply.has_value());
  EXPECT_TRUE(s.prepare(req(3, "nope/nope"), *session).reply.has_value());
  EXPECT_TRUE(s.prepare(req(4, "tools/call", {{"name", 5}}), *session).work !=
              nullptr);  // checked by the work
  PreparedMessage list = s.prepare(req(5, "tools/list"), *session);
  ASSERT_TRUE(list.work);
  EXPECT_EQ(list.lane, PreparedMessage::Lane::quick);
  PreparedMessage call = s.prepare(req(6, "tools/call", {{"name", "t1"}}), *session);
  ASSERT_TRUE(call.work);
  EXPECT_EQ(call.lane, PreparedMessage::Lane::tool_call);
  // The session may change or end before the work runs (a DELETE, another message).
  session->principal = "someone-else";
  session.reset();
  auto j = parse_json(*call.work().body);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ((*j)["result"]["content"][0]["text"], "agent:{}");
  EXPECT_EQ(parse_json(*list.work().body).value_or(Json())["result"]["tools"].size(), 7u);
}

class AgentToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto spec = contract::load_spec(keel::testing::source_dir() + "/examples/durable-agent.yaml");
    ASSERT_TRUE(spec.ok());
    spec_ = std::move(*spec);
    agent::AgentDeploymentOptions o;
  o.catalog = &samples::sample_catalog();
    o.catalog = &samples::sample_catalog();
    o.state_dir = dir_.path();
    o.runner.worker_id = "mcp-test";
    // No model: these calls never reach one.
    auto d = agent::AgentDeployment::open(spec_, o);
    ASSERT_TRUE(d.ok()) << d.status().to_string();
    deployment_ = std::move(*d);
    tools_ = std::make_unique<AgentTools>(*deployment_, spec_);
  }
  Json call(const std::string& principal, const std::string& name, const Json& args) {
    auto r = tools_->call(principal, name, args);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_FALSE(r->forbidden);
    return r.ok() ? r->result : Json();
  }

  //! The supervisor's signed decision on the pending approval an MCP result names.
  Status decide(const Json& approval, bool approve) {
    auto p = deployment_->runner().pending_request(approval["case"], approval["step"]);
    if (!p.ok()) return p.status();
    return deployment_->runner().decide(
        keel::testing::signed_decision(*p, approve, agent::wall_now_ns(), keel::testing::demo_supervisor_key()));
  }

  keel::testing::TempDir dir_;
  contract::Spec spec_;
  std::unique_ptr<agent::AgentDeployment> deployment_;
  std::unique_ptr<AgentTools> tools_;
};

TEST_F(AgentToolsTest, ListsWhatThePrincipalMayUseWithTypedSchemas) {
  auto agent_tools = tools_->list("agent");
  std::map<std::string, Json> by_name;
  for (const auto& t : agent_tools) by_name[t["name"]] = t;
  ASSERT_TRUE(by_name.count("issue_refund"));
  const Json& refund = by_name["issue_refund"];
  EXPECT_TRUE(refund["annotations"]["destructiveHint"].get<bool>());
  EXPECT_FALSE(refund["annotations"]["readOnlyHint"].get<bool>());
  auto required = refund["inputSchema"]["required"].get<std::vector<std::string>>();
  EXPECT_NE(std::find(required.begin(), required.end(), "idempotency_key"), required.end());
  EXPECT_EQ(refund["outputSchema"]["properties"]["status"]["enum"], Json({"done", "pending_approval"}));
  EXPECT_NE(refund["description"].get<std::string>().find("args.amount > 100"), std::string::npos);
  EXPECT_TRUE(by_name["lookup_order"]["annotations"]["readOnlyHint"].get<bool>());
  // The supervisor has no case-manager role: set_case_status is not listed, and refused.
  for (const auto& t : tools_->list("supervisor")) EXPECT_NE(t["name"], "set_case_status");
  auto refused = tools_->call("supervisor", "set_case_status", {{"case_id", "CASE-1"}, {"status", "closed"}, {"idempotency_key", "12345678"}});
  ASSERT_TRUE(refused.ok());
  EXPECT_TRUE(refused->forbidden);
  EXPECT_EQ(tools_->call("agent", "no_such_tool", Json::object()).status().code(), StatusCode::not_found);
}

TEST_F(AgentToolsTest, ARepeatedKeyReturnsTheFirstOutcome) {
  Json args = {{"case_id", "CASE-1"}, {"text", "called the customer"}, {"idempotency_key", "note-key-0001"}};
  Json first = call("agent", "add_case_note", args);
  Json again = call("agent", "add_case_note", args);
  ASSERT_EQ(first["structuredContent"]["status"], "done") << first.dump();
  EXPECT_EQ(first["structuredContent"], again["structuredContent"]);
  EXPECT_EQ(orders(*deployment_)->ledger_for_case("CASE-1")->notes, 1);
  args["idempotency_key"] = "note-key-0002";
  Json other = call("agent", "add_case_note", args);
  EXPECT_NE(other["structuredContent"]["result"]["note_id"], first["structuredContent"]["result"]["note_id"]);
  args["text"] = "something else";
  Json reused = call("agent", "add_case_note", args);
  EXPECT_TRUE(reused.value("isError", false));
  EXPECT_NE(reused["content"][0]["text"].get<std::string>().find("different call"), std::string::npos);
  Json no_key = call("agent", "add_case_note", {{"case_id", "CASE-1"}, {"text", "x"}});
  EXPECT_TRUE(no_key.value("isError", false));
  EXPECT_EQ(orders(*deployment_)->ledger_for_case("CASE-1")->notes, 2);
}

TEST_F(AgentToolsTest, APendingApprovalNeverExecutesEarly) {
  Json args = {{"case_id", "CASE-2"}, {"order_id", "ORD-1002"}, {"amount", 240}, {"reason", "broken"}, {"idempotency_key", "refund-0001"}};
  Json pending = call("agent", "issue_refund", args);
  ASSERT_EQ(pending["structuredContent"]["status"], "pending_approval") << pending.dump();
  const Json& approval = pending["structuredContent"]["approval"];
  EXPECT_EQ(orders(*deployment_)->ledger_for_case("CASE-2")->refunds, 0);
  // Asking again changes nothing until someone decides.
  EXPECT_EQ(call("agent", "issue_refund", args)["structuredContent"]["status"], "pending_approval");
  ASSERT_TRUE(decide(approval, true).ok());
  Json done = call("agent", "issue_refund", args);
  ASSERT_EQ(done["structuredContent"]["status"], "done") << done.dump();
  EXPECT_EQ(done["structuredContent"]["result"]["status"], "issued");
  EXPECT_EQ(orders(*deployment_)->ledger_for_case("CASE-2")->refunds, 1);
  // A forbidding rule is an error result the model can read.
  Json capped = call("agent", "issue_refund", {{"case_id", "CASE-4"}, {"order_id", "ORD-1004"}, {"amount", 820}, {"reason", "x"},
                                               {"idempotency_key", "refund-0002"}});
  EXPECT_TRUE(capped.value("isError", false));
  EXPECT_NE(capped["content"][0]["text"].get<std::string>().find("finance"), std::string::npos) << capped.dump();
  // So is a denial.
  Json deny_args = {{"case_id", "CASE-5"}, {"order_id", "ORD-1005"}, {"amount", 150}, {"reason", "x"}, {"idempotency_key", "refund-0003"}};
  Json p2 = call("agent", "issue_refund", deny_args);
  ASSERT_EQ(p2["structuredContent"]["status"], "pending_approval");
  ASSERT_TRUE(decide(p2["structuredContent"]["approval"], false).ok());
  Json denied = call("agent", "issue_refund", deny_args);
  EXPECT_TRUE(denied.value("isError", false));
  EXPECT_EQ(orders(*deployment_)->ledger_for_case("CASE-5")->refunds, 0);
}

TEST_F(AgentToolsTest, ApprovalsOverMcpNeedABearerTokenAndAnApprovingRole) {
  const std::vector<std::string> approval_tools = {"list_pending_approvals", "approve_pending_action", "deny_pending_action"};
  auto names = [](const std::vector<Json>& tools) {
    std::set<std::string> out;
    for (const auto& t : tools) out.insert(t["name"].get<std::string>());
    return out;
  };
  // Over stdio or --as (principals not authenticated): no approval tools for anyone.
  for (const auto& n : approval_tools) {
    EXPECT_FALSE(names(tools_->list("supervisor")).count(n)) << n;
    EXPECT_EQ(tools_->call("supervisor", n, Json::object()).status().code(), StatusCode::not_found) << n;
  }
  // With bearer tokens: listed for the supervisor (an approver), not for the agent.
  AgentTools authenticated(*deployment_, spec_, true);
  for (const auto& n : approval_tools) {
    EXPECT_TRUE(names(authenticated.list("supervisor")).count(n)) << n;
    EXPECT_FALSE(names(authenticated.list("agent")).count(n)) << n;
  }
  Json args = {{"case_id", "CASE-2"}, {"order_id", "ORD-1002"}, {"amount", 240}, {"reason", "broken"}, {"idempotency_key", "refund-mcp-01"}};
  auto pending = authenticated.call("agent", "issue_refund", args);
  ASSERT_TRUE(pending.ok());
  const Json approval = pending->result["structuredContent"]["approval"];
  ASSERT_TRUE(approval.contains("args_sha256")) << pending->result.dump();
  EXPECT_NE(approval["approve_with"].get<std::string>().find("--key"), std::string::npos) << approval.dump();
  const Json decision = {{"case", approval["case"]}, {"step", approval["step"]}, {"args_sha256", approval["args_sha256"]}};
  // The agent holds no approving role: forbidden (HTTP 403), and nothing is decided.
  auto by_agent = authenticated.call("agent", "approve_pending_action", decision);
  ASSERT_TRUE(by_agent.ok());
  EXPECT_TRUE(by_agent->forbidden);
  // The supervisor sees the request with its hash; the wrong hash is refused.
  auto listed = authenticated.call("supervisor", "list_pending_approvals", Json::object());
  ASSERT_TRUE(listed.ok());
  const Json items = listed->result["structuredContent"]["pending"];
  ASSERT_EQ(items.size(), 1u) << listed->result.dump();
  EXPECT_EQ(items[0]["args_sha256"], approval["args_sha256"]);
  EXPECT_EQ(items[0]["args"]["amount"], 240);
  Json wrong = decision;
  wrong["args_sha256"] = std::string(64, '0');
  auto refused = authenticated.call("supervisor", "approve_pending_action", wrong);
  ASSERT_TRUE(refused.ok());
  EXPECT_TRUE(refused->result.value("isError", false)) << refused->result.dump();
  EXPECT_EQ(authenticated.call("agent", "issue_refund", args)->result["structuredContent"]["status"], "pending_approval");
  EXPECT_EQ(orders(*deployment_)->ledger_for_case("CASE-2")->refunds, 0);
  // The supervisor's decision, authenticated by its token, is journaled as such.
  auto approved = authenticated.call("supervisor", "approve_pending_action", decision);
  ASSERT_TRUE(approved.ok());
  ASSERT_FALSE(approved->forbidden) << approved->forbidden_reason;
  EXPECT_EQ(approved->result["structuredContent"]["decision"], "granted") << approved->result.dump();
  auto records = deployment_->journal().read(approval["case"].get<std::string>());
  ASSERT_TRUE(records.ok());
  bool recorded = false;
  for (const auto& r : *records) {
    if (r.kind != agent::record::approval_granted) continue;
    recorded = true;
    EXPECT_EQ(r.data["by"], "supervisor");
    EXPECT_EQ(r.data["authentication"], "bearer-token");
    EXPECT_EQ(r.data["channel"], "mcp");
  }
  EXPECT_TRUE(recorded);
  Json done = authenticated.call("agent", "issue_refund", args)->result;
  EXPECT_EQ(done["structuredContent"]["status"], "done") << done.dump();
  EXPECT_EQ(orders(*deployment_)->ledger_for_case("CASE-2")->refunds, 1);
}

}  // namespace
}  // namespace keel::mcp
