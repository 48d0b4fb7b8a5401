#include "rag/answer_service.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <random>

#include "core/clock.h"
#include "core/hash.h"
#include "rag/answer_composer.h"
#include "rag/question_reader.h"
#include "semantic/metric_service.h"

namespace keel::rag {
namespace {

Json decision(std::string rule, std::string verdict, std::string detail) {
  return {{"rule", std::move(rule)}, {"decision", std::move(verdict)}, {"detail", std::move(detail)}};
}

std::string new_answer_id() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  return fmt::format("ans_{:016x}", random());
}

void append_all(Json* to, const Json& from) {
  for (const auto& item : from) to->push_back(item);
}

std::string cell_text(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return fmt::format("{:.2f}", v.get<double>());
  return v.dump();
}

// The metrics this asker may query, for a limitation's nearest names.
std::vector<std::string> permitted_metrics(const semantic::MetricCatalog& catalog, const semantic::Asker& asker) {
  std::vector<std::string> out;
  for (const auto& m : catalog.metrics)
    for (const auto& r : m.roles)
      if (std::find(asker.roles.begin(), asker.roles.end(), r) != asker.roles.end()) {
        out.push_back(m.name);
        break;
      }
  return out;
}

// The answer's evidence as one audit row: enough to trace every figure and quote to its source
// (metric, catalog version, SQL hash, the parameters' hash; document, bytes, quote hash), and
// nothing the asker wrote in clear (the retention control promises the question is not kept).
Json evidence_decision(const Json& out) {
  std::vector<std::string> items;
  for (const auto& m : out["evidence"]["metrics"])
    items.push_back(fmt::format("metric {} catalog {} sql {} rows {} parameters {}", m["metric"].get<std::string>(),
                                m["catalog_version"].get<std::string>(), m["sql_hash"].get<std::string>(),
                                m["rows"].size(), sha256_hex(m["parameters"].dump())));
  for (const auto& p : out["evidence"]["passages"])
    items.push_back(fmt::format("document {} bytes {}-{} quote {}", p["document"].get<std::string>(),
                                p["start"].get<uint64_t>(), p["end"].get<uint64_t>(),
                                p["quote_sha256"].get<std::string>()));
  for (const auto& l : out["limitations"]) items.push_back("limitation " + l["code"].get<std::string>());
  if (const Json& model = out["route"]["model"]; model.is_object())
    items.push_back(fmt::format("model {} sha256 {} tokens {}+{} composer {}", model["id"].get<std::string>(),
                                model["sha256"].get<std::string>(), out["cost"]["prompt_tokens"].get<int64_t>(),
                                out["cost"]["completion_tokens"].get<int64_t>(),
                                out["route"]["composer"].get<std::string>()));
  return decision("evidence", out["status"].get<std::string>(), items.empty() ? "none" : fmt::format("{}", fmt::join(items, "; ")));
}

// The most sensitive class of the answer's evidence (model_router.h).
contract::DataClass evidence_class(const semantic::MetricCatalog& catalog, const Json& out) {
  contract::DataClass c = contract::DataClass::public_data;
  for (const auto& p : out["evidence"]["passages"])
    c = std::max(c, ModelRouter::class_named(p.value("classification", "")));
  for (const auto& m : out["evidence"]["metrics"]) {
    const std::string name = m["metric"];
    auto def = std::find_if(catalog.metrics.begin(), catalog.metrics.end(),
                            [&](const semantic::Metric& d) { return d.name == name; });
    c = std::max(c, ModelRouter::class_named(def == catalog.metrics.end() ? "" : def->classification));
  }
  return c;
}

// What the evidence adds to the question: each metric row's figure, and the names and figures
// of the quoted passages the question does not already hold. A composed text must state one.
std::vector<std::string> key_terms(const Json& out, const std::string& question) {
  std::vector<std::string> terms;
  for (const auto& m : out["evidence"]["metrics"])
    for (const auto& row : m["rows"]) terms.push_back(cell_text(row.back()));
  for (const auto& p : out["evidence"]["passages"]) {
    const std::string quote = p["quote"];
    for (size_t i = 0; i < quote.size();) {
      size_t j = i;
      while (j < quote.size() && std::isalnum(static_cast<unsigned char>(quote[j]))) ++j;
      if (j == i) {
        ++i;
        continue;
      }
      std::string word = quote.substr(i, j - i);
      const bool name_or_figure = std::isupper(static_cast<unsigned char>(word[0])) || std::isdigit(static_cast<unsigned char>(word[0]));
      // A capitalised word that opens a sentence is not yet a name.
      size_t before = i;
      while (before > 0 && quote[before - 1] == ' ') --before;
      const bool opens_sentence = before == 0 || quote[before - 1] == '.' || quote[before - 1] == '\n';
      if (name_or_figure && (!opens_sentence || std::isdigit(static_cast<unsigned char>(word[0]))) &&
          question.find(word) == std::string::npos)
        terms.push_back(std::move(word));
      i = j;
    }
  }
  return terms;
}

}  // namespace

std::string metric_answer_text(const Json& metric_answer, const Json& request) {
  const Json& e = metric_answer["evidence"];
  std::string scope;
  if (auto r = request.find("range"); r != request.end() && r->is_object())
    scope = fmt::format(", {} to {}", r->value("from", "start"), r->value("to", "now"));
  std::string text = fmt::format("{} ({}{}), from metric catalog {}:", e["metric"].get<std::string>(),
                                 e["unit"].get<std::string>(), scope, e["catalog_version"].get<std::string>());
  const Json& columns = metric_answer["columns"];
  const Json& rows = metric_answer["rows"];
  if (rows.empty()) return text + " no rows match.";
  if (rows.size() == 1 && columns.size() == 1) return text + " " + cell_text(rows[0][0]);
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c + 1 < row.size(); ++c)
      line += (line.empty() ? "" : ", ") + columns[c].get<std::string>() + " " + cell_text(row[c]);
    text += fmt::format("\n  {}: {}", line, cell_text(row.back()));
  }
  if (metric_answer.value("truncated", false)) text += "\n  (more rows exist; narrow the request)";
  return text;
}

Result<Json> AnswerService::answer_metric(const semantic::MetricCatalog& catalog, const semantic::Asker& asker,
                                          const Json& request, Json* out) {
  semantic::MetricService metrics(catalog, warehouse_, options_.metrics);
  KEEL_ASSIGN_OR_RETURN(Json m, metrics.answer(asker, request));
  for (const auto& d : m["policy"])
    if (d["rule"] != "identity") (*out)["policy"].push_back(d);  // answer() wrote it first
  (*out)["route"] = {{"source", "metric"}, {"composer", "metric-template"}, {"model", nullptr}, {"request", request}};
  if (m["status"] == "limited") {
    (*out)["status"] = "limited";
    (*out)["limitations"].push_back(m["limitation"]);
    (*out)["text"] = "No answer: " + m["limitation"]["message"].get<std::string>();
    return *out;
  }
  Json evidence = m["evidence"];
  evidence["columns"] = m["columns"];
  evidence["rows"] = m["rows"];
  evidence["truncated"] = m["truncated"];
  (*out)["evidence"]["metrics"].push_back(std::move(evidence));
  (*out)["status"] = "answered";
  (*out)["text"] = metric_answer_text(m, request);
  return *out;
}

Result<Json> AnswerService::answer_documents(const semantic::MetricCatalog& catalog, const semantic::Asker& asker,
                                             const std::string& question, Json* out) {
  KEEL_ASSIGN_OR_RETURN(auto documents, warehouse_.documents(asker.tenant, asker.roles, options_.document_source));
  (*out)["policy"].push_back(decision("warehouse.row_level_security", "applied",
                                      "keel.tenant and keel.roles set for the documents' transaction"));
  DocumentAnswer d = answer_from_documents(question, documents, {asker.tenant, asker.roles},
                                           catalog.masked_fields(asker.roles), options_.documents);
  append_all(&(*out)["policy"], d.decisions);
  (*out)["route"] = {{"source", "documents"}, {"composer", "extractive"}, {"model", nullptr}, {"request", nullptr}};
  if (d.found) {
    (*out)["status"] = "answered";
    (*out)["text"] = d.text;
    (*out)["evidence"]["passages"] = d.evidence;
    return *out;
  }
  if (asks_for_a_number(question)) {
    semantic::Limitation l{"unsupported_metric",
                           "the question asks for a number that no metric of the catalog defines",
                           permitted_metrics(catalog, asker)};
    (*out)["status"] = "limited";
    (*out)["limitations"].push_back(l.to_json());
    (*out)["text"] = "No answer: " + l.message + ".";
    return *out;
  }
  (*out)["status"] = "declined";
  (*out)["text"] = fmt::format(
      "I cannot answer that from the documents you may read (the best passage covers {:.0f}% of the question).",
      100 * d.coverage);
  return *out;
}

void AnswerService::compose_with_model(const semantic::MetricCatalog& catalog, const std::string& question,
                                       Json* out) {
  Json& route = (*out)["route"];
  const contract::DataClass data_class = evidence_class(catalog, *out);
  route["data_class"] = std::string(contract::enum_name(data_class));
  route["composer_reason"] = options_.composer_reason;
  if (!options_.router) return;
  Route chosen = options_.router->route(data_class);
  (*out)["policy"].push_back(chosen.decision);
  if (!chosen.composer) {
    route["composer_reason"] = "no model may read this answer's evidence: " + chosen.decision["detail"].get<std::string>();
    return;
  }
  const std::string evidence = (*out)["text"];
  std::vector<std::string> sources;
  for (const auto& p : (*out)["evidence"]["passages"]) sources.push_back(p["quote"]);
  if (sources.empty()) sources.push_back(evidence);  // a metric result, as its template writes it
  route["model"] = {{"id", chosen.composer->model_id()},
                    {"sha256", chosen.composer->sha256()},
                    {"file", chosen.composer->file()}};
  auto composed = chosen.composer->compose(question.empty() ? "What does the evidence show?" : question, sources);
  if (!composed.ok()) {
    (*out)["policy"].push_back(decision("composer.generate", "failed", composed.status().message()));
    route["composer_reason"] = "the model failed; the template's text is kept";
    return;
  }
  (*out)["cost"] = {{"prompt_tokens", composed->prompt_tokens}, {"completion_tokens", composed->completion_tokens}};
  route["model_ms"] = composed->ms;
  std::vector<std::string> unsupported = unsupported_figures(composed->text, evidence);
  const std::vector<std::string> terms = key_terms(*out, question);
  const bool states_nothing = !terms.empty() && !states_any(composed->text, terms);
  if (composed->text.empty() || !unsupported.empty() || states_nothing) {
    const std::string why =
        composed->text.empty()   ? std::string("the model wrote nothing")
        : !unsupported.empty()   ? fmt::format("the model stated {}, which the evidence does not", fmt::join(unsupported, ", "))
                                 : "the model stated none of the figures or names the evidence gives";
    (*out)["policy"].push_back(decision("composer.figures", "reject", why));
    route["composer_reason"] = why + "; the template's text is kept";
    route["rejected_text"] = composed->text;
    return;
  }
  (*out)["policy"].push_back(decision("composer.figures", "accept", "every figure the model states is in the evidence"));
  route["composer"] = "model";
  route["composer_reason"] = chosen.decision["detail"];
  (*out)["text"] = composed->text;
}

Result<Json> AnswerService::answer(const semantic::Asker& asker, const AnswerRequest& request) {
  const int64_t start = monotonic_now_ns();
  const std::shared_ptr<const semantic::MetricCatalog> held = catalog_->current();
  const semantic::MetricCatalog& catalog = *held;
  Json out = {{"answer_id", new_answer_id()},
              {"status", "declined"},
              {"text", ""},
              {"evidence", {{"metrics", Json::array()}, {"passages", Json::array()}}},
              {"limitations", Json::array()},
              {"policy", Json::array({decision("identity", "allow",
                                               fmt::format("principal {} of tenant {}", asker.principal,
                                                           asker.tenant))})},
              {"catalog", {{"version", catalog.version}, {"sha256", catalog.sha256}}},
              {"cost", {{"prompt_tokens", 0}, {"completion_tokens", 0}}}};
  auto route = [&]() -> Result<Json> {
    if (request.metric_request) return answer_metric(catalog, asker, *request.metric_request, &out);
    if (auto typed = read_metric_request(catalog, request.question)) {
      out["policy"].push_back(decision("question.reader", "applied",
                                       "a typed metric request read from the question's words: " + typed->dump()));
      return answer_metric(catalog, asker, *typed, &out);
    }
    return answer_documents(catalog, asker, request.question, &out);
  };
  Result<Json> answered = route();
  if (!answered.ok()) {
    if (audit_) {
      AuditEntry failed{out["answer_id"], asker.principal, asker.tenant, "failed",
                        sha256_hex(request.question), out["policy"]};
      failed.decisions.push_back(decision("answer", "failed", answered.status().to_string()));
      (void)audit_->append(failed);  // best effort: the database may be what failed
    }
    return answered.status();
  }
  if (out["status"] == "answered") {
    compose_with_model(catalog, request.question, &out);
  } else {
    out["route"]["composer_reason"] = "limitations and declines are not composed";
  }
  out["latency_ms"] = static_cast<double>(monotonic_now_ns() - start) / 1e6;
  if (audit_) {
    const std::string subject = request.metric_request ? request.metric_request->dump() : request.question;
    AuditEntry entry{out["answer_id"], asker.principal, asker.tenant, out["status"], sha256_hex(subject), out["policy"]};
    entry.decisions.push_back(evidence_decision(out));
    KEEL_RETURN_IF_ERROR(audit_->append(entry));
  }
  return out;
}

Result<std::unique_ptr<ConnectedAnswerService>> ConnectedAnswerService::open(
    std::shared_ptr<CatalogSource> catalog, const std::string& warehouse_conninfo, AnswerServiceOptions options) {
  auto c = std::make_unique<ConnectedAnswerService>();
  KEEL_ASSIGN_OR_RETURN(c->warehouse, semantic::Warehouse::connect(warehouse_conninfo));
  if (options.require_row_security) {
    std::vector<std::string> tables;
    for (const auto& t : catalog->current()->tables) tables.push_back(t.name);
    KEEL_RETURN_IF_ERROR(c->warehouse->check_row_security(tables));
  }
  KEEL_ASSIGN_OR_RETURN(c->audit, AuditLog::connect(warehouse_conninfo));
  c->service = std::make_unique<AnswerService>(std::move(catalog), *c->warehouse, c->audit.get(), options);
  return c;
}

Status AnswerService::audit_refusal(const std::string& reason, const std::string& question) {
  if (!audit_) return Status();
  return audit_->append({new_answer_id(), "", "", "refused", sha256_hex(question),
                         Json::array({decision("identity", "deny", reason)})});
}

}  // namespace keel::rag
