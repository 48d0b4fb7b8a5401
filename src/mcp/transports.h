// MCP transports: stdio (one JSON-RPC message per line on stdin/stdout, logs on stderr) and
// Streamable HTTP at /mcp (POST with a JSON response; 202 for notifications; sessions by
// Mcp-Session-Id; the MCP-Protocol-Version header checked; Origin validated against an
// allow-list so a web page cannot drive a local server; bearer tokens mapped to principals,
// stored hashed; loopback by default; GET answers 405: this server starts no streams).
//
// Threads: one thread reads, parses and writes messages (and runs the sessions' lifecycle);
// requests that reach a provider run on worker pools, tool calls on their own pool so lists
// and reads never queue behind a slow tool. Over HTTP a connection handles one request at a
// time (its responses stay in order) while other connections go on; over stdio requests
// overlap and their responses come back as they finish (matched by id), each line whole.
//
// Sessions (HTTP) belong to the principal that opened them: a request or DELETE naming
// another principal's session is 404. Each principal holds at most max_sessions_per_principal
// sessions (its least recently used one ends to make room for a new one); all together hold
// at most max_sessions, and past that an initialize is refused (503) rather than ending
// anyone else's session. Idle sessions expire.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/serving_defaults.h"
#include "core/result.h"
#include "mcp/mcp_server.h"

namespace keel::mcp {

//! Worker threads for the work of requests (both at least 1).
struct WorkerOptions {
  size_t tool_call_threads = 4;  //!< tools/call
  size_t quick_threads = 2;      //!< lists, reads, prompts
};

//! Serves `server` on the streams until the input ends, then returns once every request read
//! has been answered. `principal` is who the client acts as.
void serve_stdio(McpServer& server, const std::string& principal, std::istream& in,
                 std::ostream& out, const WorkerOptions& workers = {});

//! Bearer tokens (by SHA-256) -> principals. File format (YAML):
//!   principals:
//!     - id: agent
//!       tokens_sha256: [<64 hex>]   # `keel keygen` makes a token and its hash
class TokenFile {
 public:
  [[nodiscard]] static Result<TokenFile> load(const std::string& path);
  //! The principal of "Bearer <token>", or unauthenticated.
  [[nodiscard]] Result<std::string> principal(std::string_view authorization) const;
  bool empty() const { return by_hash_.empty(); }
  //! Every principal that has a token.
  std::vector<std::string> principals() const;

 private:
  std::map<std::string, std::string> by_hash_;
};

struct HttpOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;              //!< 0: any free port
  std::string tokens_path;        //!< empty: no authentication (then only loopback may be used)
  //! Instead of a token file: the principal of an Authorization header's value (e.g. a verified
  //! JWT's asker), or unauthenticated (401). Runs on the I/O thread.
  std::function<Result<std::string>(std::string_view authorization)> authenticate;
  std::string default_principal;  //!< the principal of unauthenticated clients (no token file)
  std::vector<std::string> allowed_origins;  //!< besides http(s)://localhost|127.0.0.1|[::1][:port]
  size_t max_sessions = 4096;                //!< all principals together
  size_t max_sessions_per_principal = 128;
  int64_t session_idle_ms = 60 * 60 * 1000;  //!< a session unused this long ends
  const Clock* clock = nullptr;              //!< for session idleness; nullptr: the system clock
  WorkerOptions workers;
  // Connection deadlines, as the OpenAI-compatible server has them (net/http_connection.h); 0:
  // none. A tool call being answered has no deadline.
  int64_t header_timeout_ms = serving_defaults::kHeaderTimeoutMs;
  int64_t body_timeout_ms = serving_defaults::kBodyTimeoutMs;
  int64_t idle_timeout_ms = serving_defaults::kIdleTimeoutMs;
};

//! "[HOST:]PORT" (an IPv6 host in brackets) into h.host and h.port.
[[nodiscard]] Status parse_listen_address(const std::string& text, HttpOptions& h);

class HttpTransport {
 public:
  [[nodiscard]] static Result<std::unique_ptr<HttpTransport>> create(McpServer& server,
                                                                     const HttpOptions& options);
  ~HttpTransport();
  uint16_t port() const;
  //! Serves until SIGINT/SIGTERM or stop().
  void run();
  void stop();

  struct Impl;

 private:
  HttpTransport() = default;
  std::unique_ptr<Impl> impl_;
};

}  // namespace keel::mcp
