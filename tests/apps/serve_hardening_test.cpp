// keel serve under hostile and careless clients, over real sockets on loopback: bodies whose
// fields have the wrong JSON types, connection floods (total and per peer), slow and idle
// connections, unauthenticated clients announcing large bodies, the process out of file
// descriptors, embedding floods and clients that leave, huge prompts, SIGTERM while the model
// loads, and clients that half-close. Each test reproduces a defect found by probing the server
// (it failed against the server before the fix) or guards a protection (it fails when the
// protection is removed). States are read from the server's own /metrics, never from a fixed
// sleep; where a deadline is the behaviour under test, the server runs with short deadlines and
// the test waits for the effect with a generous bound.
//
// KEEL_SERVE_BINARY=<path> runs these tests against another build of keel (e.g. an older one).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/hash.h"
#include "core/json.h"
#include "support/test_support.h"

namespace keel {
namespace {

using testing::BackgroundProcess;

std::string repo(const std::string& rel) {
  return testing::source_dir() + "/" + rel;
}
const std::string kChat = "models/keel-tiny-chat.gguf";
const std::string kEmbed = "models/keel-tiny-embed.gguf";

std::string keel_program() {
  const char* other = std::getenv("KEEL_SERVE_BINARY");
  return other && *other ? other : testing::keel_binary();
}

// The value of one series of a Prometheus text (name and labels exactly), -1 when absent.
double metric(const std::string& text, const std::string& series) {
  size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

struct Server {
  std::unique_ptr<BackgroundProcess> process;
  std::string url;
  int port = 0;
  explicit Server(std::vector<std::string> args) {
    std::vector<std::string> argv = {keel_program(), "serve",    "--port", "0",
                                     "--model",      repo(kChat)};
    argv.insert(argv.end(), args.begin(), args.end());
    process = std::make_unique<BackgroundProcess>(argv);
    EXPECT_TRUE(process->wait_for_output("listening on http://")) << process->output();
    url = testing::listening_url(process->output());
    port = std::stoi(url.substr(url.rfind(':') + 1));
  }
  bool wait_ready(int timeout_ms = 30000) {
    return testing::poll_until(
        [&] { return testing::http_request(url, "GET", "/readyz").status == 200; }, timeout_ms);
  }
  std::string metrics() { return testing::http_request(url, "GET", "/metrics").body; }
  bool alive() { return kill(process->pid(), 0) == 0 && process->wait(0) == -1; }
};

// A raw client socket: connect (optionally from a given loopback address), send, receive.
class Client {
 public:
  Client(int port, const char* source = nullptr) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (source) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      inet_pton(AF_INET, source, &local.sin_addr);
      EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local), 0) << strerror(errno);
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    EXPECT_TRUE(connected_) << strerror(errno);
  }
  ~Client() { close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  Client(Client&& o) noexcept
      : fd_(o.fd_), connected_(o.connected_), leftover_(std::move(o.leftover_)) {
    o.fd_ = -1;
  }

  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  //! Reads until the peer closes (EOF or reset) or `timeout_ms` passes; `closed` says which.
  std::string receive_until_closed(int timeout_ms, bool* closed) {
    std::string got;
    *closed = false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    char buffer[65536];
    for (;;) {
      const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            deadline - std::chrono::steady_clock::now())
                                            .count());
      if (left <= 0) return got;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, left) <= 0) return got;
      ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) {
        *closed = true;
        return got;
      }
      got.append(buffer, static_cast<size_t>(n));
    }
  }
  //! Appends what one recv() gives within `timeout_ms`; false on timeout, close or error.
  bool receive_some(int timeout_ms, std::string* got) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return false;
    char buffer[65536];
    ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) return false;
    got->append(buffer, static_cast<size_t>(n));
    return true;
  }
  //! Reads until `needle` arrives (true), or the peer closes or the time is up (false).
  bool receive_until(const std::string& needle, int timeout_ms, std::string* got) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    char buffer[65536];
    while (got->find(needle) == std::string::npos) {
      const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            deadline - std::chrono::steady_clock::now())
                                            .count());
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, left) <= 0) return false;
      ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return false;
      got->append(buffer, static_cast<size_t>(n));
    }
    return true;
  }
  //! One request on this (keep-alive) connection; the body of its response ("" on failure).
  std::string get(const std::string& path, int timeout_ms = 5000) {
    if (!send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")) return "";
    std::string got = std::move(leftover_);
    leftover_.clear();
    if (!receive_until("\r\n\r\n", timeout_ms, &got)) return "";
    const size_t head_end = got.find("\r\n\r\n") + 4;
    std::string lower = got.substr(0, head_end);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char ch) { return std::tolower(ch); });
    const size_t at = lower.find("content-length: ");
    if (at == std::string::npos) return "";
    const size_t length = std::stoul(lower.substr(at + 16));
    while (got.size() < head_end + length) {
      if (!receive_some(timeout_ms, &got)) return "";
    }
    leftover_ = got.substr(head_end + length);
    return got.substr(head_end, length);
  }
  void shutdown_sending() { ::shutdown(fd_, SHUT_WR); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string leftover_;
};

std::string http_post(const std::string& path, const std::string& body,
                      const std::vector<std::string>& headers = {}) {
  std::string r = "POST " + path +
                  " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                  std::to_string(body.size()) + "\r\n";
  for (const auto& h : headers) r += h + "\r\n";
  return r + "\r\n" + body;
}

int status_of(const std::string& response) {
  // The final status line: interim 1xx responses come first.
  size_t at = 0;
  for (;;) {
    if (response.compare(at, 9, "HTTP/1.1 ") != 0) return 0;
    int status = std::atoi(response.c_str() + at + 9);
    if (status >= 200) return status;
    size_t end = response.find("\r\n\r\n", at);
    if (end == std::string::npos) return status;
    at = end + 4;
  }
}

// --- 1. Bodies with fields of the wrong type ---------------------------------------------------

TEST(ServeHardening, TypeMutatedBodiesAreClear400sAndTheServerStaysUp) {
  Server s({"--embed-model", repo(kEmbed)});
  ASSERT_TRUE(s.wait_ready()) << s.process->output();
  struct Case {
    std::string path, body, param;
  };
  const std::string msgs = R"("messages":[{"role":"user","content":"hi"}])";
  const std::vector<Case> cases = {
      {"/v1/chat/completions",
       R"({"model":"keel-tiny-chat",)" + msgs +
           R"(,"stream":true,"stream_options":{"include_usage":"yes"}})",
       "stream_options.include_usage"},
      {"/v1/chat/completions",
       R"({"model":"keel-tiny-chat",)" + msgs +
           R"(,"stream":true,"stream_options":{"include_usage":1}})",
       "stream_options.include_usage"},
      {"/v1/chat/completions",
       R"({"model":"keel-tiny-chat","messages":[{"role":"user","content":[{"type":7,"text":"hi"}]}]})",
       "messages[0].content[0].type"},
      {"/v1/completions",
       R"({"model":"keel-tiny-chat","prompt":"hi","stream":true,"stream_options":{"include_usage":[1]}})",
       "stream_options.include_usage"},
      {"/v1/completions", R"({"model":"keel-tiny-chat","prompt":"hi","logprobs":true})",
       "logprobs"},
      {"/v1/embeddings", R"({"model":"keel-tiny-embed","input":"hi","encoding_format":3})",
       "encoding_format"},
      {"/v1/embeddings", R"({"model":"keel-tiny-embed","input":["a",{"x":1}]})", "input[1]"},
  };
  for (const auto& c : cases) {
    auto r =
        testing::http_request(s.url, "POST", c.path, c.body, {"Content-Type: application/json"});
    EXPECT_EQ(r.status, 400) << c.body << "\n" << r.body << "\n" << s.process->output();
    auto j = parse_json(r.body);
    ASSERT_TRUE(j.ok()) << r.body;
    EXPECT_EQ((*j)["error"]["param"], c.param) << r.body;
    EXPECT_EQ((*j)["error"]["type"], "invalid_request_error") << r.body;
    ASSERT_EQ(testing::http_request(s.url, "GET", "/livez").status, 200)
        << "the server died on " << c.body;
  }
  EXPECT_TRUE(s.alive()) << s.process->output();
  // And it still serves.
  auto ok = testing::http_request(
      s.url, "POST", "/v1/chat/completions",
      R"({"model":"keel-tiny-chat",)" + msgs +
          R"(,"max_tokens":2,"stream":true,"stream_options":{"include_usage":true}})",
      {"Content-Type: application/json"});
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_NE(ok.body.find("\"usage\""), std::string::npos) << ok.body;
}

// --- 2. Connection caps, deadlines, authentication before the body, the fd limit --------------

TEST(ServeHardening, PastTheConnectionCapOnlyProbesAreAnsweredThenConnectionsAreRefused) {
  Server s({"--max-connections", "4", "--max-connections-per-peer", "0", "--header-timeout-ms",
            "60000"});
  std::vector<Client> held;
  for (int i = 0; i < 4; ++i) held.emplace_back(s.port);
  // The cap is reached once the server has accepted them: a fifth connection gets a probe slot.
  ASSERT_TRUE(testing::poll_until([&] {
    Client probe(s.port);
    probe.send("GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n");
    bool closed = false;
    return status_of(probe.receive_until_closed(5000, &closed)) == 503;
  })) << "a request past the connection cap was served in full";
  {
    Client probe(s.port);
    probe.send("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n");
    bool closed = false;
    std::string got = probe.receive_until_closed(5000, &closed);
    EXPECT_EQ(status_of(got), 200) << "health probes keep answering at the cap: " << got;
    EXPECT_TRUE(closed) << "a probe slot serves one request";
  }
  // Fill the probe slots too (16): the next connection is refused at once.
  for (int i = 0; i < 16; ++i) held.emplace_back(s.port);
  std::string refused;
  ASSERT_TRUE(testing::poll_until([&] {
    Client extra(s.port);
    bool closed = false;
    refused = extra.receive_until_closed(5000, &closed);
    return closed && status_of(refused) == 503;
  })) << refused;
  EXPECT_NE(refused.find("too_many_connections"), std::string::npos) << refused;
  EXPECT_NE(refused.find("Retry-After"), std::string::npos) << refused;
  held.clear();  // the clients leave; the server serves again
  EXPECT_TRUE(testing::poll_until(
      [&] { return testing::http_request(s.url, "GET", "/v1/models").status == 200; }));
  std::string m = s.metrics();
  EXPECT_GE(metric(m, "keel_connections_refused_total{reason=\"max_connections\"}"), 1) << m;
}

TEST(ServeHardening, OnePeerCannotHoldMoreThanItsShareOfConnections) {
  Server s({"--max-connections-per-peer", "3", "--header-timeout-ms", "60000"});
  std::vector<Client> greedy;
  for (int i = 0; i < 3; ++i) greedy.emplace_back(s.port, "127.0.0.2");
  std::string refused;
  ASSERT_TRUE(testing::poll_until([&] {
    Client fourth(s.port, "127.0.0.2");
    fourth.send("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n");
    bool closed = false;
    refused = fourth.receive_until_closed(5000, &closed);
    return status_of(refused) == 503;
  })) << "a peer opened more connections than its cap: "
      << refused;
  EXPECT_NE(refused.find("too_many_connections"), std::string::npos) << refused;
  // Another peer is served meanwhile.
  Client other(s.port, "127.0.0.3");
  other.send("GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  bool closed = false;
  EXPECT_EQ(status_of(other.receive_until_closed(5000, &closed)), 200);
  std::string m = s.metrics();
  EXPECT_GE(metric(m, "keel_connections_refused_total{reason=\"per_peer\"}"), 1) << m;
}

TEST(ServeHardening, SlowAndIdleConnectionsAreClosedAtTheirDeadlines) {
  Server s({"--header-timeout-ms", "400", "--body-timeout-ms", "400", "--idle-timeout-ms", "400"});
  bool closed = false;
  {  // Part of a head, then nothing: 408, closed.
    Client c(s.port);
    c.send("GET /livez HTTP/1.1\r\nHost: x\r\n");
    std::string got = c.receive_until_closed(10000, &closed);
    EXPECT_TRUE(closed) << "a partial head held the connection open";
    EXPECT_EQ(status_of(got), 408) << got;
  }
  {  // A head trickled one byte every 100 ms: the deadline counts from the first byte.
    Client c(s.port);
    const std::string head = "GET /livez HTTP/1.1\r\nHost: x\r\nUser-Agent: slow-loris\r\n\r\n";
    size_t sent = 0;
    for (; sent < head.size(); ++sent) {
      if (!c.send(head.substr(sent, 1))) break;
      std::string got = c.receive_until_closed(100, &closed);
      if (closed || !got.empty()) break;
    }
    EXPECT_LT(sent, head.size())
        << "the trickled head was read to its end: each byte extended the deadline";
  }
  {  // A head announcing 100 bytes of body, then 10 of them: 408, closed.
    Client c(s.port);
    c.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789");
    std::string got = c.receive_until_closed(10000, &closed);
    EXPECT_TRUE(closed) << "a partial body held the connection open";
    EXPECT_EQ(status_of(got), 408) << got;
  }
  {  // A keep-alive connection after its response, and a connection that never sends: closed.
    Client c(s.port);
    c.send("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string got;
    ASSERT_TRUE(c.receive_until("ok\n", 5000, &got)) << got;
    c.receive_until_closed(10000, &closed);
    EXPECT_TRUE(closed) << "an idle keep-alive connection stayed open";
    Client silent(s.port);
    EXPECT_TRUE(silent.receive_until_closed(10000, &closed).empty());
    EXPECT_TRUE(closed) << "a connection that never sent a byte stayed open";
  }
  std::string m = s.metrics();
  EXPECT_GE(metric(m, "keel_connection_timeouts_total{phase=\"header\"}"), 3) << m;
  EXPECT_GE(metric(m, "keel_connection_timeouts_total{phase=\"body\"}"), 1) << m;
  EXPECT_GE(metric(m, "keel_connection_timeouts_total{phase=\"idle\"}"), 1) << m;
}

TEST(ServeHardening, UnauthenticatedClientsCannotMakeTheServerHoldTheirBodies) {
  testing::TempDir dir;
  const std::string key = "keel-hardening-key";
  testing::write_file(dir.file("keys.yaml"),
                      "tenants:\n  - id: t\n    keys_sha256: [" + sha256_hex(key) + "]\n");
  Server s({"--api-keys", dir.file("keys.yaml")});
  ASSERT_TRUE(s.wait_ready()) << s.process->output();
  const int64_t rss_before = s.process->rss_bytes();
  const std::string head =
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 4194304\r\n\r\n";
  // 50 clients announce 4 MiB bodies without a key: each is answered 401 on its head alone.
  std::vector<Client> clients;
  for (int i = 0; i < 50; ++i) {
    clients.emplace_back(s.port);
    ASSERT_TRUE(clients.back().send(head));
  }
  // One deadline for all of them (10 s), not one each.
  int refused_on_head = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (auto& c : clients) {
    const int left =
        static_cast<int>(std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  deadline - std::chrono::steady_clock::now())
                                                  .count()));
    std::string got;
    c.receive_until("\r\n\r\n", left, &got);
    refused_on_head +=
        status_of(got) == 401 && got.find("WWW-Authenticate: Bearer") != std::string::npos;
  }
  EXPECT_EQ(refused_on_head, 50) << "the server waited for the bodies before authenticating";
  // Then they send their bodies anyway: the server holds none of them.
  const std::string chunk(1 << 20, 'x');
  std::vector<std::thread> senders;
  for (int i = 0; i < 50; ++i) {
    senders.emplace_back([&, i] {
      Client c(s.port);
      c.send(head);
      for (int k = 0; k < 4 && c.send(chunk); ++k) {
      }
    });
  }
  for (auto& t : senders) t.join();
  const int64_t rss_after = s.process->rss_bytes();
  EXPECT_LT(rss_after - rss_before, int64_t{64} << 20)
      << "50 unauthenticated 4 MiB bodies grew the server by "
      << (rss_after - rss_before) / (1 << 20) << " MiB";
  // A client with the key is served, body and all.
  std::string prompt;
  while (prompt.size() < 200000) prompt += "word ";
  auto r = testing::http_request(
      s.url, "POST", "/v1/completions",
      dump_json(Json{{"model", "keel-tiny-chat"}, {"prompt", prompt}, {"max_tokens", 2}}),
      {"Authorization: Bearer " + key, "Content-Type: application/json"});
  EXPECT_EQ(r.status, 400) << r.body;  // read and tokenized: too long for the context
  EXPECT_NE(r.body.find("context_length_exceeded"), std::string::npos) << r.body;
  EXPECT_TRUE(s.alive());
}

TEST(ServeHardening, ARefusedClientCanFinishSendingItsBodyAndReadTheAnswer) {
  // Refused on its head, a client that sends its whole body at once (as most do) must still
  // read the answer: the server discards what follows for a while instead of resetting the
  // connection under the client's feet.
  testing::TempDir dir;
  testing::write_file(dir.file("keys.yaml"),
                      "tenants:\n  - id: t\n    keys_sha256: [" + sha256_hex("k") + "]\n");
  Server s({"--api-keys", dir.file("keys.yaml")});
  for (const auto& [headers, status] : std::vector<std::pair<std::string, int>>{
           {"Authorization: Bearer wrong\r\n", 401}, {"Authorization: Bearer k\r\n", 413}}) {
    const size_t length = status == 413 ? (5u << 20) : (4u << 20);
    Client c(s.port);
    const std::string head =
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + headers +
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(length) + "\r\n\r\n";
    EXPECT_TRUE(c.send(head + std::string(length, 'x')))
        << "the connection was reset while the body was sent";
    bool closed = false;
    std::string got = c.receive_until_closed(10000, &closed);
    EXPECT_EQ(status_of(got), status) << got;
    EXPECT_TRUE(closed);
  }
}

int64_t cpu_ticks(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string f;
  int64_t utime = 0, stime = 0;
  for (int i = 3; fields >> f; ++i) {
    if (i == 14) utime = std::stoll(f);
    if (i == 15) {
      stime = std::stoll(f);
      break;
    }
  }
  return utime + stime;
}

int open_fds(int pid) {
  int n = 0;
  for ([[maybe_unused]] const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
    ++n;
  return n;
}

TEST(ServeHardening, OutOfFileDescriptorsTheServerBacksOffAndRecovers) {
  Server s({});
  // Loaded first: the load opens and closes files (the model, its hash), and a descriptor it
  // frees after the limit is set would let one accept() through and restart the back-off.
  ASSERT_TRUE(s.wait_ready()) << s.process->output();
  // A keep-alive connection opened before the limit, to read /metrics while accept() fails.
  Client admin(s.port);
  auto metrics_now = [&] { return admin.get("/metrics"); };
  ASSERT_NE(metrics_now().find("keel_accept_errors_total"), std::string::npos)
      << "no accept error metric";
  // No descriptor left for the server: its next accept() fails with EMFILE.
  rlimit original{};
  ASSERT_EQ(prlimit(s.process->pid(), RLIMIT_NOFILE, nullptr, &original), 0);
  rlimit tight = original;
  tight.rlim_cur = static_cast<rlim_t>(open_fds(s.process->pid()));
  ASSERT_EQ(prlimit(s.process->pid(), RLIMIT_NOFILE, &tight, nullptr), 0) << strerror(errno);
  const auto start = std::chrono::steady_clock::now();
  const int64_t ticks_before = cpu_ticks(s.process->pid());
  std::vector<Client> waiting;
  for (int i = 0; i < 3; ++i) waiting.emplace_back(s.port);  // queued in the listen backlog
  double errors = 0;
  std::string m;
  ASSERT_TRUE(testing::poll_until(
      [&] {
        m = metrics_now();
        errors = metric(m, "keel_accept_errors_total{reason=\"fd_limit\"}");
        return errors >= 8;
      },
      20000))
      << m;
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu_s = static_cast<double>(cpu_ticks(s.process->pid()) - ticks_before) /
                       static_cast<double>(sysconf(_SC_CLK_TCK));
  // Backing off (10 ms doubling to 1 s), eight failures take over a second; spinning, they take
  // microseconds and are followed by thousands more.
  EXPECT_LE(metric(metrics_now(), "keel_accept_errors_total{reason=\"fd_limit\"}"), 30)
      << "accept() spins at the fd limit";
  EXPECT_GT(wall_s, 1.0);
  EXPECT_LT(cpu_s, 0.5 * wall_s) << "the server used " << cpu_s << " s of CPU in " << wall_s
                                 << " s at the fd limit";
  // Open connections are served meanwhile.
  EXPECT_NE(metrics_now().find("keel_connections_open"), std::string::npos);
  // Descriptors again: the waiting clients and a new probe are served within the back-off.
  ASSERT_EQ(prlimit(s.process->pid(), RLIMIT_NOFILE, &original, nullptr), 0);
  for (auto& c : waiting) {
    c.send("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string got;
    EXPECT_TRUE(c.receive_until("ok\n", 5000, &got)) << got;
  }
  EXPECT_EQ(testing::http_request(s.url, "GET", "/livez", "", {}, 5000).status, 200);
}

TEST(ServeHardening, AFloodOfPipelinedRequestsIsAnsweredInOrderWithoutExhaustingTheStack) {
  // Requests pipelined behind a slow one wait in the connection's buffer (up to the body
  // limit); answering them one after another must not nest a call per request.
  Server s({"--slow-step-ms", "50"});
  ASSERT_TRUE(s.wait_ready());
  Client c(s.port);
  const std::string slow = http_post("/v1/completions", dump_json(Json{{"model", "keel-tiny-chat"},
                                                                       {"prompt", "Once"},
                                                                       {"max_tokens", 20},
                                                                       {"temperature", 0}}));
  const std::string probe = "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n";
  const int n = (3 << 20) / static_cast<int>(probe.size());
  std::string flood;
  flood.reserve(static_cast<size_t>(n) * probe.size());
  for (int i = 0; i < n; ++i) flood += probe;
  ASSERT_TRUE(c.send(slow));
  ASSERT_TRUE(
      testing::poll_until([&] { return metric(s.metrics(), "keel_requests_running") == 1; }));
  std::atomic<int> answered{0};
  std::thread reader([&] {
    std::string got;
    size_t at = 0;
    int seen = 0;
    while (seen < n + 1 && c.receive_some(30000, &got)) {
      for (size_t p = got.find("HTTP/1.1 200", at); p != std::string::npos;
           p = got.find("HTTP/1.1 200", at)) {
        ++seen;
        at = p + 12;
      }
    }
    answered = seen;
  });
  EXPECT_TRUE(c.send(flood));
  reader.join();
  EXPECT_EQ(answered.load(), n + 1) << s.process->output().substr(0, 2000);
  EXPECT_TRUE(s.alive()) << s.process->output().substr(0, 2000);
}

// --- 3. Embeddings: admission, fairness, cancellation; tokenization off the I/O thread -------

std::vector<std::string> long_inputs(int n) {
  std::string text;
  for (int i = 0; i < 60; ++i) text += "the scenario spec names five constraints ";
  return std::vector<std::string>(static_cast<size_t>(n), text);
}

TEST(ServeHardening, EmbeddingsAreAdmittedWithinTheQueueBound) {
  // Slow slices keep the first request in progress while the others arrive.
  Server s({"--embed-model", repo(kEmbed), "--max-waiting", "1", "--slow-step-ms", "300"});
  ASSERT_TRUE(s.wait_ready()) << s.process->output();
  const std::string body =
      dump_json(Json{{"model", "keel-tiny-embed"}, {"input", long_inputs(16)}});
  std::vector<testing::HttpResult> results(5);
  std::vector<std::thread> clients;
  for (int i = 0; i < 5; ++i) {
    clients.emplace_back([&, i] {
      results[i] = testing::http_request(s.url, "POST", "/v1/embeddings", body,
                                         {"Content-Type: application/json"}, 60000);
    });
  }
  for (auto& t : clients) t.join();
  int ok = 0, refused = 0;
  for (const auto& r : results) {
    if (r.status == 200) ++ok;
    if (r.status == 429) {
      ++refused;
      EXPECT_GE(r.headers.count("retry-after") ? std::atoi(r.headers.at("retry-after").c_str()) : 0,
                1);
      EXPECT_NE(r.body.find("queue_full"), std::string::npos) << r.body;
    }
  }
  EXPECT_EQ(ok + refused, 5);
  EXPECT_GE(ok, 1);
  EXPECT_GE(refused, 1) << "five embedding requests were all queued behind a bound of one waiting";
  std::string m = s.metrics();
  EXPECT_GE(metric(m, "keel_admission_rejections_total{reason=\"queue_full\"}"), refused) << m;
}

TEST(ServeHardening, AOneWordEmbeddingDoesNotWaitForTheLargeOnesAhead) {
  Server s({"--embed-model", repo(kEmbed), "--max-waiting", "16", "--slow-step-ms", "100"});
  ASSERT_TRUE(s.wait_ready()) << s.process->output();
  const std::string large =
      dump_json(Json{{"model", "keel-tiny-embed"}, {"input", long_inputs(64)}});
  std::atomic<int> large_done{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 3; ++i) {
    clients.emplace_back([&] {
      auto r = testing::http_request(s.url, "POST", "/v1/embeddings", large,
                                     {"Content-Type: application/json"}, 120000);
      EXPECT_EQ(r.status, 200) << r.body;
      ++large_done;
    });
  }
  const bool all_queued = testing::poll_until(
      [&] { return metric(s.metrics(), "keel_embedding_requests_active") == 3; });
  auto small = testing::http_request(s.url, "POST", "/v1/embeddings",
                                     R"({"model":"keel-tiny-embed","input":"hello"})",
                                     {"Content-Type: application/json"}, 120000);
  const int large_done_when_small_returned = large_done.load();
  for (auto& t : clients) t.join();
  EXPECT_TRUE(all_queued) << s.metrics();
  EXPECT_EQ(small.status, 200) << small.body;
  EXPECT_EQ(large_done_when_small_returned, 0)
      << "the one-word request waited for the large requests ahead of it";
}

TEST(ServeHardening, EmbeddingWorkStopsWhenItsClientsLeave) {
  // 6 requests of 64 inputs at 8 inputs per 200 ms slice: about 10 s of work if nobody left.
  Server s({"--embed-model", repo(kEmbed), "--max-waiting", "16", "--slow-step-ms", "200"});
  ASSERT_TRUE(s.wait_ready()) << s.process->output();
  const std::string body =
      dump_json(Json{{"model", "keel-tiny-embed"}, {"input", long_inputs(64)}});
  {
    std::vector<Client> clients;
    for (int i = 0; i < 6; ++i) {
      clients.emplace_back(s.port);
      clients.back().send(http_post("/v1/embeddings", body));
    }
    ASSERT_TRUE(testing::poll_until([&] {
      return metric(s.metrics(), "keel_embedding_requests_active") == 6;
    })) << s.metrics();
  }  // every client closes its connection
  std::string m;
  ASSERT_TRUE(testing::poll_until([&] {
    m = s.metrics();
    return metric(m, "keel_embedding_requests_active") == 0;
  })) << m;
  EXPECT_EQ(metric(m, "keel_requests_total{status=\"499\",tenant=\"anonymous\"}"), 6) << m;
  EXPECT_LE(metric(m, "keel_embedding_inputs_total"), 6 * 16)
      << "the work went on after its clients left\n"
      << m;
}

TEST(ServeHardening, AHugePromptIsTokenizedOffTheIoThread) {
  Server s({});
  ASSERT_TRUE(s.wait_ready()) << s.process->output();
  std::string prompt;
  while (prompt.size() < 4'000'000) prompt += "tokenize every word of this sentence again ";
  const std::string body =
      dump_json(Json{{"model", "keel-tiny-chat"}, {"prompt", prompt}, {"max_tokens", 1}});
  testing::HttpResult big;
  std::thread client([&] {
    big = testing::http_request(s.url, "POST", "/v1/completions", body,
                                {"Content-Type: application/json"}, 120000);
  });
  // While the prompt is being tokenized, the I/O thread answers probes and metrics.
  bool seen_tokenizing = testing::poll_until(
      [&] { return metric(s.metrics(), "keel_requests_tokenizing") == 1; }, 60000, 5);
  auto livez = testing::http_request(s.url, "GET", "/livez", "", {}, 10000);
  const double still_tokenizing = metric(s.metrics(), "keel_requests_tokenizing");
  client.join();
  EXPECT_TRUE(seen_tokenizing) << "/metrics never answered while the prompt was being tokenized";
  EXPECT_EQ(livez.status, 200);
  EXPECT_EQ(still_tokenizing, 1) << "the tokenization ended before /livez could be answered";
  EXPECT_EQ(big.status, 400) << big.body;
  EXPECT_NE(big.body.find("context_length_exceeded"), std::string::npos) << big.body;
}

// --- 4. SIGTERM during the load; half-closing clients ---------------------------------------

TEST(ServeHardening, SigtermDuringTheModelLoadStopsAtOnce) {
  Server s({"--startup-delay-ms", "60000"});
  EXPECT_EQ(testing::http_request(s.url, "GET", "/startupz").status, 503);
  s.process->signal(SIGTERM);
  EXPECT_EQ(s.process->wait(10000), 0) << "SIGTERM waited for the 60 s load\n"
                                       << s.process->output();
}

TEST(ServeHardening, SigtermDuringTheWarmUpStopsAtOnce) {
  // The warm-up's one engine step takes 60 s here.
  Server s({"--slow-step-ms", "60000"});
  ASSERT_TRUE(s.process->wait_for_output("warming up")) << s.process->output();
  s.process->signal(SIGTERM);
  EXPECT_EQ(s.process->wait(10000), 0) << "SIGTERM waited for the warm-up\n" << s.process->output();
}

TEST(ServeHardening, SigtermAtAnyStepOfTheStartExitsCleanly) {
  for (const char* milestone : {"listening on", "loading", "warming up", "ready ("}) {
    Server s({"--embed-model", repo(kEmbed)});
    ASSERT_TRUE(s.process->wait_for_output(milestone)) << s.process->output();
    s.process->signal(SIGTERM);
    EXPECT_EQ(s.process->wait(15000), 0) << milestone << "\n" << s.process->output();
  }
}

TEST(ServeHardening, AHalfClosedClientStillGetsItsResponse) {
  Server s({});
  ASSERT_TRUE(s.wait_ready());
  for (bool stream : {false, true}) {
    Client c(s.port);
    c.send(http_post("/v1/completions", dump_json(Json{{"model", "keel-tiny-chat"},
                                                       {"prompt", "Once upon a time"},
                                                       {"max_tokens", 8},
                                                       {"temperature", 0},
                                                       {"stream", stream}})));
    c.shutdown_sending();  // the request is complete; nothing more will be sent
    bool closed = false;
    std::string got = c.receive_until_closed(30000, &closed);
    ASSERT_EQ(status_of(got), 200) << "the half-close was taken for an abort: " << got;
    if (stream) {
      EXPECT_NE(got.find("[DONE]"), std::string::npos) << got;
    } else {
      auto j = parse_json(got.substr(got.rfind("\r\n\r\n") + 4));
      ASSERT_TRUE(j.ok()) << got;
      EXPECT_EQ((*j)["usage"]["completion_tokens"], 8) << got;
    }
  }
  std::string m = s.metrics();
  EXPECT_EQ(metric(m, "keel_requests_total{status=\"200\",tenant=\"anonymous\"}"), 2) << m;
}

TEST(ServeHardening, AClientThatClosesDuringANonStreamedRequestStillCancelsIt) {
  Server s({"--slow-step-ms", "20"});  // 1000 tokens would take 20 s
  ASSERT_TRUE(s.wait_ready());
  {
    Client c(s.port);
    c.send(http_post("/v1/completions", dump_json(Json{{"model", "keel-tiny-chat"},
                                                       {"prompt", "Once"},
                                                       {"max_tokens", 1000},
                                                       {"temperature", 0}})));
    ASSERT_TRUE(testing::poll_until([&] {
      return metric(s.metrics(), "keel_requests_running") == 1;
    })) << s.metrics();
  }  // closed, not half-closed
  std::string m;
  EXPECT_TRUE(testing::poll_until([&] {
    m = s.metrics();
    return metric(m, "keel_requests_total{status=\"499\",tenant=\"anonymous\"}") == 1 &&
           metric(m, "keel_requests_running") == 0;
  })) << m;
  EXPECT_LT(metric(m, "keel_generation_tokens_total"), 200) << m;
}

}  // namespace
}  // namespace keel
