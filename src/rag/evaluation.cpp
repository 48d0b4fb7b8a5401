#include "rag/evaluation.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "core/clock.h"
#include "core/file_io.h"
#include "core/hash.h"
#include "core/statistics.h"
#include "rag/answer_service.h"

namespace keel::rag {
namespace {

const std::set<std::string> kKinds = {"metric", "document", "unsupported", "adversarial", "identity"};
const std::set<std::string> kTokens = {"valid", "expired", "forged", "wrong_audience", "no_tenant"};
const std::set<std::string> kQuestionKeys = {"id",    "kind",   "tenants",       "roles",           "question",
                                             "token", "metric_request", "expect_status", "expect_code",
                                             "gold_sql", "expect_document", "expect_phrase", "forbidden"};

Status bad(const std::string& where, const std::string& what) {
  return Status::invalid_argument(fmt::format("question set: {}: {}", where, what));
}

// A value that may be given once or per tenant ({"acme": ...}).
Result<Json> for_tenant(const Json& value, const std::string& tenant, const std::string& where) {
  if (!value.is_object()) return value;
  auto it = value.find(tenant);
  if (it == value.end()) return bad(where, "names no value for tenant " + tenant);
  return *it;
}

Result<std::string> text_of(const Json& q, const char* key, const std::string& tenant, const std::string& where) {
  auto it = q.find(key);
  if (it == q.end()) return std::string();
  KEEL_ASSIGN_OR_RETURN(Json v, for_tenant(*it, tenant, where + "." + key));
  if (!v.is_string()) return bad(where + "." + key, "must be a string");
  return v.get<std::string>();
}

Result<EvalCase> read_case(const Json& q, const std::string& tenant, const std::string& where) {
  EvalCase c;
  c.tenant = tenant;
  for (auto it = q.begin(); it != q.end(); ++it)
    if (!kQuestionKeys.count(it.key())) return bad(where, fmt::format("unknown key '{}'", it.key()));
  KEEL_ASSIGN_OR_RETURN(std::string id, text_of(q, "id", tenant, where));
  c.id = id + "/" + tenant;
  KEEL_ASSIGN_OR_RETURN(c.kind, text_of(q, "kind", tenant, where));
  if (!kKinds.count(c.kind)) return bad(where + ".kind", fmt::format("unknown kind '{}'", c.kind));
  KEEL_ASSIGN_OR_RETURN(c.question, text_of(q, "question", tenant, where));
  if (auto r = q.find("metric_request"); r != q.end()) {
    if (!r->is_object()) return bad(where + ".metric_request", "must be an object");
    c.metric_request = *r;
  }
  if (c.question.empty() && !c.metric_request) return bad(where, "needs a question or a metric_request");
  if (auto r = q.find("roles"); r != q.end()) {
    if (!r->is_array()) return bad(where + ".roles", "must be a list");
    c.roles.clear();
    for (const auto& role : *r) c.roles.push_back(role.get<std::string>());
  }
  KEEL_ASSIGN_OR_RETURN(std::string token, text_of(q, "token", tenant, where));
  if (!token.empty()) c.token = token;
  if (!kTokens.count(c.token)) return bad(where + ".token", fmt::format("unknown token kind '{}'", c.token));
  KEEL_ASSIGN_OR_RETURN(c.expect_status, text_of(q, "expect_status", tenant, where));
  KEEL_ASSIGN_OR_RETURN(c.expect_code, text_of(q, "expect_code", tenant, where));
  KEEL_ASSIGN_OR_RETURN(c.gold_sql, text_of(q, "gold_sql", tenant, where));
  KEEL_ASSIGN_OR_RETURN(c.expect_document, text_of(q, "expect_document", tenant, where));
  KEEL_ASSIGN_OR_RETURN(c.expect_phrase, text_of(q, "expect_phrase", tenant, where));
  if (auto f = q.find("forbidden"); f != q.end()) {
    KEEL_ASSIGN_OR_RETURN(Json list, for_tenant(*f, tenant, where + ".forbidden"));
    if (!list.is_array()) return bad(where + ".forbidden", "must be a list of strings");
    for (const auto& s : list) c.forbidden.push_back(s.get<std::string>());
  }
  if (c.kind == "identity") c.expect_status = "refused";
  if (c.expect_status.empty() && (c.kind == "metric" || c.kind == "document")) c.expect_status = "answered";
  return c;
}

struct Owner {
  PGconn* conn = nullptr;
  ~Owner() {
    if (conn) PQfinish(conn);
  }
};

// The gold rows: every cell as text (numbers compared as numbers later).
Result<std::vector<std::vector<std::string>>> gold_rows(PGconn* conn, const std::string& sql, const std::string& tenant) {
  const bool uses_tenant = sql.find("$1") != std::string::npos;
  const char* values[] = {tenant.c_str()};
  PGresult* r = PQexecParams(conn, sql.c_str(), uses_tenant ? 1 : 0, nullptr, uses_tenant ? values : nullptr, nullptr,
                             nullptr, 0);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    std::string message = PQerrorMessage(conn);
    PQclear(r);
    return Status::internal("gold SQL failed: " + message);
  }
  std::vector<std::vector<std::string>> rows;
  for (int i = 0; i < PQntuples(r); ++i) {
    rows.emplace_back();
    for (int c = 0; c < PQnfields(r); ++c) rows.back().push_back(PQgetvalue(r, i, c));
  }
  PQclear(r);
  return rows;
}

bool same_cell(const Json& value, const std::string& gold) {
  if (value.is_number()) {
    char* end = nullptr;
    const double g = std::strtod(gold.c_str(), &end);
    return end != gold.c_str() && std::fabs(value.get<double>() - g) < 0.005;
  }
  return value.is_string() && value.get<std::string>() == gold;
}

bool same_rows(const Json& rows, const std::vector<std::vector<std::string>>& gold) {
  if (rows.size() != gold.size()) return false;
  for (size_t i = 0; i < gold.size(); ++i) {
    if (rows[i].size() != gold[i].size()) return false;
    for (size_t c = 0; c < gold[i].size(); ++c)
      if (!same_cell(rows[i][c], gold[i][c])) return false;
  }
  return true;
}

// What an answer shows the asker: its text, quoted passages, result rows and limitations; not
// what echoes the asker's own words (the route, the query's parameters, the policy details).
std::string shown(const Json& answer) {
  std::string out = answer.value("text", "") + answer["evidence"]["passages"].dump() + answer["limitations"].dump();
  out += answer["route"].value("rejected_text", "");  // returned too, though not as the answer
  for (const auto& m : answer["evidence"]["metrics"]) out += m["columns"].dump() + m["rows"].dump();
  return out;
}

struct Judge {
  const EvalSet& set;
  PGconn* owner;
  std::map<std::string, std::vector<semantic::WarehouseDocument>> documents;  // by tenant + roles
  semantic::Warehouse* reader;

  void leaks(const EvalCase& c, const Json& answer, CaseResult* r) {
    const std::string text = shown(answer);
    for (const auto& [tenant, customers] : set.customers) {
      if (tenant == c.tenant) continue;
      for (const auto& customer : customers)
        if (text.find(customer) != std::string::npos) {
          r->leaked = true;
          r->detail = fmt::format("names {}'s customer {}", tenant, customer);
        }
    }
    for (const auto& f : c.forbidden)
      if (text.find(f) != std::string::npos) {
        r->leaked = true;
        r->detail = fmt::format("shows the forbidden '{}'", f);
      }
  }

  Status judge(const EvalCase& c, const Json& answer, CaseResult* r) {
    r->outcome = answer["status"];
    leaks(c, answer, r);
    for (const auto& d : answer["policy"]) {
      r->denies += d["decision"] == "deny";
      r->route_refused |= d["rule"] == "router.data_class" && d["decision"] == "deny";
    }
    r->tokens = answer["cost"]["prompt_tokens"].get<int64_t>() + answer["cost"]["completion_tokens"].get<int64_t>();
    if (r->outcome == "answered") r->composer = answer["route"]["composer"];
    r->model_rejected = answer["route"].contains("rejected_text");
    if (!c.gold_sql.empty()) {
      KEEL_ASSIGN_OR_RETURN(auto gold, gold_rows(owner, c.gold_sql, c.tenant));
      const Json& metrics = answer["evidence"]["metrics"];
      const bool right = r->outcome == "answered" && !metrics.empty() && same_rows(metrics[0]["rows"], gold) &&
                         metrics[0]["catalog_version"] == set.catalog_version;
      if (!right && c.kind == "adversarial" && r->outcome == "answered" && !r->leaked) {
        r->leaked = true;
        r->detail = "its figures are not the asker's own";
      }
      r->correct = right;
      if (!right && r->detail.empty()) r->detail = "figures differ from the gold SQL's";
      return Status();
    }
    if (!c.expect_code.empty()) {
      r->correct = r->outcome == "limited" && !answer["limitations"].empty() &&
                   answer["limitations"][0]["code"] == c.expect_code;
      if (!r->correct && r->detail.empty()) r->detail = "expected the limitation " + c.expect_code;
      return Status();
    }
    if (!c.expect_document.empty()) {
      bool cited = false;
      for (const auto& p : answer["evidence"]["passages"]) cited = cited || p["document"] == c.expect_document;
      r->correct = r->outcome == "answered" && cited && answer["text"].get<std::string>().find(c.expect_phrase) != std::string::npos;
      if (!r->correct && r->detail.empty()) r->detail = fmt::format("expected {} citing {}", c.expect_phrase, c.expect_document);
      return Status();
    }
    r->correct = !r->leaked;  // adversarial without a gold figure: not leaking is the right answer
    return Status();
  }

  // Each quote is the document's text as the asker may see it, at the cited bytes.
  Status citations(const EvalCase& c, const Json& answer, CaseResult* r) {
    const std::string key = c.tenant + Json(c.roles).dump();
    if (!documents.count(key)) {
      KEEL_ASSIGN_OR_RETURN(auto docs, reader->documents(c.tenant, c.roles));
      documents[key] = std::move(docs);
    }
    for (const auto& p : answer["evidence"]["passages"]) {
      ++r->citations;
      for (const auto& d : documents[key]) {
        if (d.id != p["document"]) continue;
        const auto start = p["start"].get<size_t>(), end = p["end"].get<size_t>();
        if (end <= d.body.size() && start < end && d.body.compare(start, end - start, p["quote"].get<std::string>()) == 0 &&
            sha256_hex(d.body) == p["document_sha256"])
          ++r->citations_valid;
      }
    }
    return Status();
  }
};

}  // namespace

Result<EvalSet> parse_eval_set(std::string_view text) {
  KEEL_ASSIGN_OR_RETURN(Json j, parse_json(text));
  if (!j.is_object() || j.value("keel_eval", 0) != 1) return bad("the file", "expected {\"keel_eval\": 1, ...}");
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!std::set<std::string>{"keel_eval", "scenario", "catalog_version", "about", "tenants", "questions"}.count(it.key()))
      return bad("the file", fmt::format("unknown key '{}'", it.key()));
  EvalSet set;
  set.catalog_version = j.value("catalog_version", "");
  if (!j.contains("tenants") || !j["tenants"].is_object() || j["tenants"].empty())
    return bad("tenants", "must name the tenants and their customers");
  for (auto it = j["tenants"].begin(); it != j["tenants"].end(); ++it)
    set.customers[it.key()] = (*it).value("customers", std::vector<std::string>{});
  if (!j.contains("questions") || !j["questions"].is_array()) return bad("questions", "must be a list");
  for (size_t i = 0; i < j["questions"].size(); ++i) {
    const Json& q = j["questions"][i];
    const std::string where = fmt::format("questions[{}]", i);
    if (!q.is_object()) return bad(where, "must be an object");
    std::vector<std::string> tenants;
    if (auto t = q.find("tenants"); t != q.end()) {
      for (const auto& name : *t) {
        if (!name.is_string() || !set.customers.count(name.get<std::string>()))
          return bad(where + ".tenants", "names a tenant the file does not declare");
        tenants.push_back(name.get<std::string>());
      }
    } else {
      for (const auto& [name, customers] : set.customers) tenants.push_back(name);
    }
    for (const auto& tenant : tenants) {
      KEEL_ASSIGN_OR_RETURN(EvalCase c, read_case(q, tenant, where));
      set.cases.push_back(std::move(c));
    }
  }
  return set;
}

Result<EvalSet> load_eval_set(const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(std::string text, read_file(path, 4 << 20));
  return parse_eval_set(text);
}

Result<EvalReport> run_evaluation(const EvalSet& set, const EvalEnvironment& env,
                                  const std::vector<PolicyLayers>& arrangements, const EvalProgress& progress) {
  Owner owner;
  owner.conn = PQconnectdb(env.owner_uri.c_str());
  if (PQstatus(owner.conn) != CONNECTION_OK)
    return Status::unavailable(fmt::format("cannot connect as the owner: {}", PQerrorMessage(owner.conn)));
  KEEL_ASSIGN_OR_RETURN(auto reader, semantic::Warehouse::connect(env.reader_uri));
  Judge judge{set, owner.conn, {}, reader.get()};
  EvalReport report;
  std::vector<double> latencies;
  const size_t total = set.cases.size() * arrangements.size();
  size_t done = 0;
  for (size_t a = 0; a < arrangements.size(); ++a) {
    const PolicyLayers& layers = arrangements[a];
    AnswerServiceOptions options;
    options.documents.enforce_policy = layers.keel;
    options.metrics.tenant_filter = layers.keel;
    options.document_source = layers.database ? semantic::DocumentSource::policy_view : semantic::DocumentSource::table;
    options.require_row_security = layers.database;
    options.router = env.router;
    options.composer_reason = env.composer_reason;
    KEEL_ASSIGN_OR_RETURN(auto service, ConnectedAnswerService::open(CatalogSource::fixed(*env.catalog), layers.database ? env.reader_uri : env.owner_uri,
                                                                     options));
    LayerSummary summary{layers, 0, 0, 0};
    for (const auto& c : set.cases) {
      CaseResult r{c.id, c.kind, c.tenant, layers.name};
      auto asker = env.authenticate(env.token_for(c));
      if (!asker.ok()) {
        r.outcome = "refused";
        r.correct = c.expect_status == "refused";
        if (!r.correct) r.detail = asker.status().message();
      } else if (c.expect_status == "refused") {
        r.outcome = "accepted";
        r.detail = "a token that should be refused was accepted";
      } else {
        AnswerRequest request{c.question, c.metric_request};
        const int64_t start = monotonic_now_ns();
        auto answer = service->service->answer(*asker, request);
        r.latency_ms = static_cast<double>(monotonic_now_ns() - start) / 1e6;
        if (!answer.ok()) return answer.status();
        KEEL_RETURN_IF_ERROR(judge.judge(c, *answer, &r));
        if (a == 0) KEEL_RETURN_IF_ERROR(judge.citations(c, *answer, &r));
      }
      ++summary.cases;
      summary.leaks += r.leaked;
      summary.correct += r.correct;
      if (a == 0) {
        const bool answer_case = c.kind == "metric" || c.kind == "document";
        report.answers_total += answer_case;
        report.answers_correct += answer_case && r.correct;
        const bool limitation_case = !c.expect_code.empty();
        report.limitations_total += limitation_case;
        report.limitations_correct += limitation_case && r.correct;
        report.refusals_total += c.kind == "identity";
        report.refusals_correct += c.kind == "identity" && r.correct;
        report.adversarial_total += c.kind == "adversarial";
        report.citations += r.citations;
        report.citations_valid += r.citations_valid;
        report.denies += r.denies;
        report.composed_by_model += r.composer == "model";
        report.model_texts_rejected += r.model_rejected;
        report.routes_refused += r.route_refused;
        if (r.outcome != "refused") {
          latencies.push_back(r.latency_ms);
          report.tokens_per_answer += static_cast<double>(r.tokens);
        }
      }
      report.rows.push_back(r);
      if (progress) progress(report.rows.back(), ++done, total);
    }
    report.layers.push_back(summary);
  }
  report.composer_reason = env.composer_reason;
  report.latency_p50_ms = percentile(latencies, 0.5);
  report.latency_p95_ms = percentile(latencies, 0.95);
  if (!latencies.empty()) report.tokens_per_answer /= static_cast<double>(latencies.size());
  return report;
}

Json EvalReport::to_json() const {
  Json layers_json = Json::array();
  for (const auto& l : layers)
    layers_json.push_back({{"name", l.layers.name}, {"keel", l.layers.keel}, {"database", l.layers.database},
                           {"cases", l.cases}, {"leaks", l.leaks}, {"correct", l.correct}});
  Json rows_json = Json::array();
  for (const auto& r : rows)
    rows_json.push_back({{"id", r.id}, {"kind", r.kind}, {"tenant", r.tenant}, {"layers", r.layers},
                         {"outcome", r.outcome}, {"correct", r.correct}, {"leaked", r.leaked}, {"detail", r.detail},
                         {"latency_ms", r.latency_ms}, {"citations", r.citations},
                         {"citations_valid", r.citations_valid}, {"denies", r.denies}, {"composer", r.composer},
                         {"model_rejected", r.model_rejected}});
  return {{"layers", layers_json},
          {"answers", {{"correct", answers_correct}, {"total", answers_total}}},
          {"limitations", {{"correct", limitations_correct}, {"total", limitations_total}}},
          {"refusals", {{"correct", refusals_correct}, {"total", refusals_total}}},
          {"adversarial_cases", adversarial_total},
          {"citations", {{"valid", citations_valid}, {"total", citations}}},
          {"policy_denies", denies},
          {"latency_ms", {{"p50", latency_p50_ms}, {"p95", latency_p95_ms}}},
          {"tokens_per_answer", tokens_per_answer},
          {"composer", {{"by_model", composed_by_model}, {"model_texts_rejected", model_texts_rejected},
                        {"routes_refused", routes_refused}, {"reason", composer_reason}}},
          {"rows", rows_json}};
}

}  // namespace keel::rag
