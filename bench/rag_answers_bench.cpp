// Answers per second and latency of `keel rag serve` at 1, 4 and 8 concurrent users over real
// HTTP: each user is an analyst of one of the three tenants (their own token) asking a mix of
// metric and document questions in turn, as fast as answers come back. Rounds alternate the
// user counts; the medians of the rounds are printed, with the scaling ratio against the
// physical limit: answers/s at N users over (answers/s at 1 user x min(N, cores)).
//
//   rag_answers_bench --url URL --tokens DIR [--seconds S] [--rounds N] [--users 1,4,8]
//   (bench/rag_bench.sh starts the server on a throwaway PostgreSQL)
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "core/file_io.h"
#include "core/json.h"
#include "core/statistics.h"
#include "core/text_table.h"
#include "net/http_client.h"

using namespace keel;
using SteadyClock = std::chrono::steady_clock;

namespace {

const std::vector<std::string> kQuestions = {
    "What was the revenue in Q1 2026?",
    "Within how many days may a customer return a product?",
    "How many orders per region in 2026?",
    "Who are our key accounts?",
    "How many open tickets per quarter in 2026?",
    "On which flights do staff fly economy class?",
};

struct Round {
  double answers_per_s = 0, p50_ms = 0, p95_ms = 0;
  int errors = 0;
};

Round run_round(const std::string& url, const std::vector<std::string>& tokens, int users, double seconds) {
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> latencies(static_cast<size_t>(users));
  std::vector<int> errors(static_cast<size_t>(users), 0);
  std::vector<std::thread> threads;
  const auto start = SteadyClock::now();
  for (int u = 0; u < users; ++u) {
    threads.emplace_back([&, u] {
      size_t q = static_cast<size_t>(u);
      while (!stop.load()) {
        net::HttpClientRequest r;
        r.method = "POST";
        r.url = url + "/v1/answers";
        r.headers = {{"Content-Type", "application/json"},
                     {"Authorization", "Bearer " + tokens[static_cast<size_t>(u) % tokens.size()]}};
        r.body = dump_json({{"question", kQuestions[q++ % kQuestions.size()]}});
        const auto t = SteadyClock::now();
        auto response = net::http_fetch(r);
        const double ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - t).count();
        if (!response.ok() || response->status != 200) {
          ++errors[static_cast<size_t>(u)];
          continue;
        }
        latencies[static_cast<size_t>(u)].push_back(ms);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  std::vector<double> all;
  Round round;
  for (size_t u = 0; u < latencies.size(); ++u) {
    all.insert(all.end(), latencies[u].begin(), latencies[u].end());
    round.errors += errors[u];
  }
  round.answers_per_s = static_cast<double>(all.size()) / elapsed;
  round.p50_ms = percentile(all, 0.5);
  round.p95_ms = percentile(all, 0.95);
  return round;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string url, tokens_dir, users_list = "1,4,8";
  double seconds = 3;
  int rounds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--url") url = argv[i + 1];
    else if (a == "--tokens") tokens_dir = argv[i + 1];
    else if (a == "--seconds") seconds = std::stod(argv[i + 1]);
    else if (a == "--rounds") rounds = std::stoi(argv[i + 1]);
    else if (a == "--users") users_list = argv[i + 1];
  }
  if (url.empty() || tokens_dir.empty()) {
    std::fprintf(stderr, "usage: rag_answers_bench --url URL --tokens DIR [--seconds S] [--rounds N] [--users 1,4,8]\n");
    return 1;
  }
  std::vector<std::string> tokens;
  for (const char* name : {"acme-analyst.jwt", "globex-analyst.jwt", "initech-analyst.jwt"}) {
    auto t = read_file(tokens_dir + "/" + name, 64 << 10);
    if (!t.ok()) {
      std::fprintf(stderr, "%s\n", t.status().to_string().c_str());
      return 1;
    }
    std::string token = *t;
    while (!token.empty() && token.back() == '\n') token.pop_back();
    tokens.push_back(token);
  }
  std::vector<int> users;
  for (size_t at = 0; at < users_list.size();) {
    size_t comma = users_list.find(',', at);
    users.push_back(std::stoi(users_list.substr(at, comma - at)));
    at = comma == std::string::npos ? users_list.size() : comma + 1;
  }
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::vector<Round>> results(users.size());
  for (int r = 0; r < rounds; ++r) {
    for (size_t k = 0; k < users.size(); ++k) {
      const size_t i = r % 2 == 0 ? k : users.size() - 1 - k;  // alternate the order
      results[i].push_back(run_round(url, tokens, users[i], seconds));
      std::fprintf(stderr, "round %d/%d, %d user(s): %.0f answers/s\n", r + 1, rounds, users[i],
                   results[i].back().answers_per_s);
    }
  }
  std::printf("keel rag serve, %d round(s) of %.0f s per user count, medians; %u core(s); questions: %zu "
              "(metric and document, three tenants)\n",
              rounds, seconds, cores, kQuestions.size());
  TextTable table({"users", "answers/s", "p50 ms", "p95 ms", "errors", "scaling vs 1 user x min(users, cores)"});
  double single = 0;
  for (size_t i = 0; i < users.size(); ++i) {
    std::vector<double> rate, p50, p95;
    int errors = 0;
    for (const auto& round : results[i]) {
      rate.push_back(round.answers_per_s);
      p50.push_back(round.p50_ms);
      p95.push_back(round.p95_ms);
      errors += round.errors;
    }
    if (users[i] == 1) single = median(rate);
    const double limit = single * std::min<double>(users[i], cores);
    table.add_row({std::to_string(users[i]), fmt::format("{:.0f}", median(rate)), fmt::format("{:.2f}", median(p50)),
                   fmt::format("{:.2f}", median(p95)), std::to_string(errors),
                   limit > 0 ? fmt::format("{:.2f}", median(rate) / limit) : "-"});
  }
  std::printf("%s", table.render().c_str());
  return 0;
}
