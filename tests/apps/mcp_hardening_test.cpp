// `keel mcp serve` against an attacker, end to end with the real binary:
// - the messages that once aborted it (`"jsonrpc":2`, `"jsonrpc":null`, a numeric cancellation
//   `reason`) get JSON-RPC errors over stdio and Streamable HTTP, and it goes on serving;
// - one principal cannot end another's session;
// - resources/read refuses a document swapped for a symlink that leaves the documents folder,
//   even when the file it points at has the indexed bytes.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "core/hash.h"
#include "core/json.h"
#include "support/test_support.h"

namespace keel {
namespace {

namespace fs = std::filesystem;

std::string repo(const std::string& rel) {
  return testing::source_dir() + "/" + rel;
}

std::string message(const Json& j) {
  return dump_json(j);
}

const std::string kInitialize = message({{"jsonrpc", "2.0"},
                                         {"id", 0},
                                         {"method", "initialize"},
                                         {"params",
                                          {{"protocolVersion", "2025-11-25"},
                                           {"capabilities", Json::object()},
                                           {"clientInfo", {{"name", "t"}, {"version", "1"}}}}}});
const std::string kInitialized = R"({"jsonrpc":"2.0","method":"notifications/initialized"})";
const std::string kPing = R"({"jsonrpc":"2.0","id":99,"method":"ping"})";

// The messages of the report that ended the server, and what they must get back now.
struct Killer {
  std::string text;
  int code;  //!< JSON-RPC error code; 0 for a notification (no reply over stdio)
};
const std::vector<Killer> kKillers = {
    {R"({"jsonrpc":2,"id":7,"method":"tools/list"})", -32600},
    {R"({"jsonrpc":null,"id":7,"method":"tools/list"})", -32600},
    {R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"reason":5}})",
     0},
};

std::map<std::string, Json> replies_by_id(const std::string& out) {
  std::map<std::string, Json> by_id;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    auto j = parse_json(line);
    EXPECT_TRUE(j.ok()) << line;
    if (j.ok()) by_id[dump_json(j->value("id", Json()))] = *j;
  }
  return by_id;
}

TEST(McpHardening, MessagesThatOnceKilledTheStdioServerGetErrors) {
  testing::TempDir dir;
  for (const auto& k : kKillers) {
    SCOPED_TRACE(k.text);
    auto r =
        testing::run_keel({"mcp", "serve", "--spec", repo("examples/durable-agent.yaml"), "--stdio",
                           "--state-dir", dir.path()},
                          kInitialize + "\n" + kInitialized + "\n" + k.text + "\n" + kPing + "\n");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto by_id = replies_by_id(r.out);
    EXPECT_TRUE(by_id["99"].contains("result")) << "the server stopped answering:\n"
                                                << r.out << r.err;
    if (k.code != 0) {
      EXPECT_EQ(by_id["7"]["error"]["code"], k.code) << r.out;
    } else {
      EXPECT_EQ(by_id.size(), 2u) << "a notification gets no reply:\n" << r.out;
    }
  }
}

struct HttpServer {
  testing::TempDir dir;
  const std::string agent = "agent-token-0123456789abcdef";
  const std::string supervisor = "supervisor-token-0123456789abcdef";
  std::unique_ptr<testing::BackgroundProcess> process;
  std::string url;

  HttpServer() {
    testing::write_file(dir.file("tokens.yaml"), "principals:\n  - {id: agent, tokens_sha256: [" +
                                                     sha256_hex(agent) +
                                                     "]}\n  - {id: supervisor, tokens_sha256: [" +
                                                     sha256_hex(supervisor) + "]}\n");
    process = std::make_unique<testing::BackgroundProcess>(std::vector<std::string>{
        testing::keel_binary(), "mcp", "serve", "--spec", repo("examples/durable-agent.yaml"),
        "--http", "127.0.0.1:0", "--tokens", dir.file("tokens.yaml"), "--state-dir", dir.path()});
    EXPECT_TRUE(process->wait_for_output("/mcp")) << process->output();
    url = testing::listening_url(process->output());  // …/mcp
    if (url.size() > 4 && url.compare(url.size() - 4, 4, "/mcp") == 0) url.resize(url.size() - 4);
  }
  testing::HttpResult post(const std::string& body, const std::string& token,
                           const std::string& session = "") {
    std::vector<std::string> headers = {"Content-Type: application/json",
                                        "Accept: application/json, text/event-stream",
                                        "Authorization: Bearer " + token};
    if (!session.empty()) headers.push_back("Mcp-Session-Id: " + session);
    return testing::http_request(url, "POST", "/mcp", body, headers);
  }
  std::string open_session(const std::string& token) {
    auto r = post(kInitialize, token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.headers.count("mcp-session-id") ? r.headers.at("mcp-session-id") : "";
  }
  bool ping_works(const std::string& token, const std::string& session) {
    auto r = post(kPing, token, session);
    return r.status == 200 && parse_json(r.body).value_or(Json()).contains("result");
  }
};

TEST(McpHardening, MessagesThatOnceKilledTheHttpServerGetErrors) {
  HttpServer server;
  std::string session = server.open_session(server.agent);
  ASSERT_FALSE(session.empty());
  for (const auto& k : kKillers) {
    SCOPED_TRACE(k.text);
    // Without a session (the message is read before the session is checked), then with one.
    EXPECT_EQ(server.post(k.text, server.agent).status, 400);
    auto r = server.post(k.text, server.agent, session);
    EXPECT_EQ(r.status, 400) << r.body;
    if (k.code != 0) {
      EXPECT_EQ(parse_json(r.body).value_or(Json())["error"]["code"], k.code) << r.body;
    }
    EXPECT_TRUE(server.ping_works(server.agent, session)) << "the server stopped answering:\n"
                                                          << server.process->output();
  }
}

TEST(McpHardening, APrincipalCannotEndAnothersSession) {
  HttpServer server;
  std::string session = server.open_session(server.agent);
  ASSERT_FALSE(session.empty());
  auto del = testing::http_request(
      server.url, "DELETE", "/mcp", "",
      {"Authorization: Bearer " + server.supervisor, "Mcp-Session-Id: " + session});
  EXPECT_EQ(del.status, 404) << del.body;
  EXPECT_EQ(server.post(kPing, server.supervisor, session).status, 404);
  EXPECT_TRUE(server.ping_works(server.agent, session));
}

TEST(McpHardening, ResourceReadsStayInsideTheDocumentsFolder) {
  testing::TempDir dir;
  const std::string text = "# Payroll\n\nSalaries are confidential.\n";
  fs::create_directories(dir.file("local-research/docs"));
  fs::create_directories(dir.file("outside"));
  testing::write_file(dir.file("local-research/docs/payroll.md"), text);
  testing::write_file(dir.file("local-research/docs/notes.md"), "# Notes\n\nNothing here.\n");
  testing::write_file(dir.file("outside/payroll.md"), text);  // the same bytes, outside the folder
  std::string spec = testing::read_file(repo("examples/local-research.yaml"));
  for (size_t at; (at = spec.find("../models/")) != std::string::npos;)
    spec.replace(at, 10, repo("models/"));
  testing::write_file(dir.file("spec.yaml"), spec);
  auto index = testing::run_keel(
      {"index", "--docs", dir.file("local-research/docs"), "--store", dir.file("store"), "-q"});
  ASSERT_EQ(index.exit_code, 0) << index.err;

  const std::string uri = "keel-doc:payroll.md?sha256=" + sha256_hex(text);
  const std::string read = message(
      {{"jsonrpc", "2.0"}, {"id", 5}, {"method", "resources/read"}, {"params", {{"uri", uri}}}});
  auto serve = [&] {
    return testing::run_keel(
        {"mcp", "serve", "--spec", dir.file("spec.yaml"), "--store", dir.file("store"), "--stdio"},
        kInitialize + "\n" + kInitialized + "\n" + read + "\n");
  };
  auto before = serve();
  ASSERT_EQ(before.exit_code, 0) << before.err;
  EXPECT_EQ(replies_by_id(before.out)["5"]["result"]["contents"][0]["text"], text)
      << before.out << before.err;

  fs::remove(dir.file("local-research/docs/payroll.md"));
  fs::create_symlink(dir.file("outside/payroll.md"), dir.file("local-research/docs/payroll.md"));
  auto after = serve();
  ASSERT_EQ(after.exit_code, 0) << after.err;
  Json reply = replies_by_id(after.out)["5"];
  EXPECT_FALSE(reply.contains("result")) << "served a file outside the documents folder:\n"
                                         << after.out;
  EXPECT_EQ(reply["error"]["code"], -32002) << after.out;
  EXPECT_NE(reply["error"]["message"].get<std::string>().find("outside the documents folder"),
            std::string::npos)
      << after.out;
}

}  // namespace
}  // namespace keel
