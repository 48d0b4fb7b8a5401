// The server in-process, on loopback: a handler's exception is a 500 and the server goes on;
// shutdown() while the model loads returns without waiting for the load, at any point of it
// (run under ThreadSanitizer, this is also where a race between the loader thread and the I/O
// thread would show).
#include <gtest/gtest.h>

#include <future>
#include <stdexcept>
#include <thread>

#include "core/json.h"
#include "serve/server.h"
#include "support/test_support.h"

namespace keel::serve {
namespace {

ServerOptions options() {
  ServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.model_path = keel::testing::source_dir() + "/models/keel-tiny-chat.gguf";
  o.handle_signals = false;
  o.scheduler.max_running = 2;
  o.scheduler.n_ctx = 256;
  o.scheduler.threads = 1;
  return o;
}

std::string url_of(const Server& s) {
  return "http://127.0.0.1:" + std::to_string(s.port());
}

TEST(Server, AHandlersExceptionIsA500AndTheServerGoesOn) {
  ServerOptions o = options();
  o.on_request = [](const net::HttpRequest& r) {
    if (r.path == "/v1/models") throw std::runtime_error("injected fault");
  };
  auto server = Server::create(o);
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  auto run = std::async(std::launch::async, [&] { return (*server)->run(); });
  const std::string url = url_of(**server);
  auto r = keel::testing::http_request(url, "GET", "/v1/models");
  EXPECT_EQ(r.status, 500) << r.body;
  auto j = parse_json(r.body);
  ASSERT_TRUE(j.ok()) << r.body;
  EXPECT_EQ((*j)["error"]["code"], "internal_error");
  EXPECT_EQ(keel::testing::http_request(url, "GET", "/livez").status, 200);
  EXPECT_EQ(keel::testing::http_request(url, "GET", "/v1/models").status, 500);
  (*server)->shutdown();
  ASSERT_EQ(run.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  EXPECT_TRUE(run.get().ok());
}

TEST(Server, ShutdownDuringTheLoadDoesNotWaitForIt) {
  ServerOptions o = options();
  o.startup_delay_ms = 3'600'000;  // an hour-long load
  auto server = Server::create(o);
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  auto run = std::async(std::launch::async, [&] { return (*server)->run(); });
  const std::string url = url_of(**server);
  ASSERT_TRUE(keel::testing::poll_until(
      [&] { return keel::testing::http_request(url, "GET", "/livez").status == 200; }));
  EXPECT_EQ(keel::testing::http_request(url, "GET", "/readyz").status, 503);
  (*server)->shutdown();
  ASSERT_EQ(run.wait_for(std::chrono::seconds(60)), std::future_status::ready)
      << "shutdown() waited for the load";
  EXPECT_TRUE(run.get().ok());
}

TEST(Server, ShutdownAtAnyPointOfTheStartIsClean) {
  // Shutdown races the loader thread: before, during and after the load and warm-up. Each
  // run ends ok; the probes answered meanwhile see a consistent state.
  for (int round = 0; round < 12; ++round) {
    auto server = Server::create(options());
    ASSERT_TRUE(server.ok()) << server.status().to_string();
    auto run = std::async(std::launch::async, [&] { return (*server)->run(); });
    const std::string url = url_of(**server);
    for (int probe = 0; probe < round; ++probe) {
      int status = keel::testing::http_request(url, "GET", "/v1/models").status;
      EXPECT_TRUE(status == 200 || status == 0) << status;
    }
    (*server)->shutdown();
    ASSERT_EQ(run.wait_for(std::chrono::seconds(60)), std::future_status::ready)
        << "round " << round;
    EXPECT_TRUE(run.get().ok()) << "round " << round;
  }
}

}  // namespace
}  // namespace keel::serve
