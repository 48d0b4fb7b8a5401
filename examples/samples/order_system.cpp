#include "samples/order_system.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <functional>

#include "agent/journal.h"
#include "core/json.h"
#include "core/sqlite_db.h"

namespace keel::samples {
namespace {

using agent::Tool;
using agent::ToolCallContext;
using agent::ToolDefinition;
using agent::wall_now_ns;

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS customers (id TEXT PRIMARY KEY, name TEXT NOT NULL, tier TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
  id TEXT PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers(id), total REAL NOT NULL,
  currency TEXT NOT NULL, items TEXT NOT NULL, delivered_days_ago INTEGER);
CREATE TABLE IF NOT EXISTS support_cases (
  id TEXT PRIMARY KEY, order_id TEXT NOT NULL REFERENCES orders(id), status TEXT NOT NULL, message TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS refunds (
  id INTEGER PRIMARY KEY, order_id TEXT NOT NULL, case_id TEXT NOT NULL, amount REAL NOT NULL, reason TEXT NOT NULL,
  idempotency_key TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS case_notes (id INTEGER PRIMARY KEY, case_id TEXT NOT NULL, text TEXT NOT NULL, idempotency_key TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS status_changes (
  id INTEGER PRIMARY KEY, case_id TEXT NOT NULL, from_status TEXT NOT NULL, to_status TEXT NOT NULL, idempotency_key TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS responses (idempotency_key TEXT PRIMARY KEY, action TEXT NOT NULL, response TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ledger (
  id INTEGER PRIMARY KEY, action TEXT NOT NULL, case_id TEXT NOT NULL, idempotency_key TEXT NOT NULL, detail TEXT NOT NULL,
  at_ns INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dedupe_hits (id INTEGER PRIMARY KEY, action TEXT NOT NULL, case_id TEXT NOT NULL, idempotency_key TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS config (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
)sql";

constexpr std::string_view kSeed = R"sql(
INSERT INTO customers VALUES ('C-100','Ada Lovelace','gold'), ('C-200','Grace Hopper','standard'),
  ('C-300','Alan Turing','standard'), ('C-400','Edsger Dijkstra','gold');
INSERT INTO orders VALUES
  ('ORD-1001','C-100',45.0,'EUR','1x USB-C cable, 2 m',5),
  ('ORD-1002','C-200',240.0,'EUR','1x wireless headphones',12),
  ('ORD-1003','C-300',89.9,'EUR','1x mechanical keyboard',NULL),
  ('ORD-1004','C-400',820.0,'EUR','1x 27-inch monitor',3),
  ('ORD-1005','C-100',30.0,'EUR','1x USB-C cable, 0.5 m',45);
INSERT INTO support_cases VALUES
  ('CASE-1','ORD-1001','open','The cable arrived with a broken connector. Please refund it.'),
  ('CASE-2','ORD-1002','open','My headphones stopped charging after a week. I would like a refund.'),
  ('CASE-3','ORD-1003','open','My keyboard has not arrived. I want my money back.'),
  ('CASE-4','ORD-1004','open','The monitor has a line of dead pixels. Please refund the monitor.'),
  ('CASE-5','ORD-1005','open','The cable is too short for my desk. Can I get a refund?');
INSERT INTO config VALUES ('dedupe_by_idempotency_key',1), ('transient_failures',0), ('timeouts_after_commit',0);
)sql";

const Json kCaseStatuses = {"open", "in_progress", "resolved", "escalated", "closed"};

// PRAGMA application_id of a database the sample created ("KSOS").
constexpr int64_t kSampleMark = 0x4B534F53;

Result<int64_t> single_integer(Database& db, const char* sql) {
  KEEL_ASSIGN_OR_RETURN(Statement s, db.prepare(sql));
  KEEL_ASSIGN_OR_RETURN(bool row, s.step());
  return row ? s.column_int(0) : 0;
}

double money(double v) { return std::round(v * 100.0) / 100.0; }

class OrderTool : public Tool {
 public:
  OrderTool(OrderSystem* sor, ToolDefinition def) : sor_(sor), def_(std::move(def)) { def_.system = "order-system"; }
  const ToolDefinition& definition() const override { return def_; }

 protected:
  Database& db() { return sor_->db(); }

  // Consumes one injected transient failure, if any are configured.
  Status injected_transient() {
    KEEL_ASSIGN_OR_RETURN(int64_t n, sor_->config("transient_failures"));
    if (n <= 0) return Status();
    KEEL_RETURN_IF_ERROR(sor_->set_config("transient_failures", n - 1));
    return Status::unavailable(fmt::format("the order system is busy (injected; {} more)", n - 1));
  }

  // Applies a write once per key in dedupe mode, every time otherwise; records the response
  // and a ledger row in the same transaction as the effect.
  Result<Json> apply_write(const std::string& case_id, const ToolCallContext& ctx,
                           const std::function<Result<Json>()>& effect) {
    KEEL_RETURN_IF_ERROR(injected_transient());
    KEEL_ASSIGN_OR_RETURN(int64_t dedupe, sor_->config("dedupe_by_idempotency_key"));
    Json response;
    {
      KEEL_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db()));
      if (dedupe) {
        KEEL_ASSIGN_OR_RETURN(auto stored, stored_response(ctx.idempotency_key));
        if (stored) {
          KEEL_ASSIGN_OR_RETURN(Statement hit, db().prepare("INSERT INTO dedupe_hits (action, case_id, idempotency_key) VALUES (?,?,?)"));
          hit.bind(1, def_.name).bind(2, case_id).bind(3, ctx.idempotency_key);
          KEEL_RETURN_IF_ERROR(hit.run());
          KEEL_RETURN_IF_ERROR(tx.commit());
          return *stored;
        }
      }
      KEEL_ASSIGN_OR_RETURN(response, effect());
      KEEL_ASSIGN_OR_RETURN(Statement save, db().prepare("INSERT OR IGNORE INTO responses VALUES (?,?,?)"));
      save.bind(1, ctx.idempotency_key).bind(2, def_.name).bind(3, canonical_json(response));
      KEEL_RETURN_IF_ERROR(save.run());
      KEEL_ASSIGN_OR_RETURN(Statement ledger, db().prepare(
          "INSERT INTO ledger (action, case_id, idempotency_key, detail, at_ns) VALUES (?,?,?,?,?)"));
      ledger.bind(1, def_.name).bind(2, case_id).bind(3, ctx.idempotency_key).bind(4, canonical_json(response)).bind(5, wall_now_ns());
      KEEL_RETURN_IF_ERROR(ledger.run());
      KEEL_RETURN_IF_ERROR(tx.commit());
    }
    KEEL_ASSIGN_OR_RETURN(int64_t timeouts, sor_->config("timeouts_after_commit"));
    if (timeouts > 0) {
      KEEL_RETURN_IF_ERROR(sor_->set_config("timeouts_after_commit", timeouts - 1));
      return Status::deadline_exceeded(fmt::format("the order system did not answer within {} ms (injected)", def_.timeout_ms));
    }
    return response;
  }

  Result<std::optional<Json>> stored_response(const std::string& key) {
    KEEL_ASSIGN_OR_RETURN(Statement s, db().prepare("SELECT response FROM responses WHERE idempotency_key = ?"));
    s.bind(1, key);
    KEEL_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) return std::optional<Json>();
    KEEL_ASSIGN_OR_RETURN(Json j, parse_json(s.column_text(0)));
    return std::optional<Json>(std::move(j));
  }

 public:
  Result<std::optional<Json>> check_outcome(const ToolCallContext& ctx) override {
    if (!is_write()) return Tool::check_outcome(ctx);
    return stored_response(ctx.idempotency_key);
  }

 protected:
  Result<Json> order_json(const std::string& order_id) {
    KEEL_ASSIGN_OR_RETURN(Statement s, db().prepare(
        "SELECT o.id, o.customer_id, o.total, o.currency, o.items, o.delivered_days_ago,"
        " (SELECT COALESCE(SUM(amount), 0) FROM refunds r WHERE r.order_id = o.id), c.name, c.tier"
        " FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id = ?"));
    s.bind(1, order_id);
    KEEL_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) return Status::not_found(fmt::format("no order {}", order_id));
    Json o = {{"order_id", s.column_text(0)}, {"customer_id", s.column_text(1)}, {"total", money(s.column_double(2))},
              {"currency", s.column_text(3)}, {"items", s.column_text(4)}, {"delivered", !s.column_is_null(5)},
              {"refunded_total", money(s.column_double(6))}, {"customer_name", s.column_text(7)}, {"customer_tier", s.column_text(8)}};
    o["delivered_days_ago"] = s.column_is_null(5) ? Json(nullptr) : Json(s.column_int(5));
    return o;
  }
  Result<Json> case_json(const std::string& case_id) {
    KEEL_ASSIGN_OR_RETURN(Statement s, db().prepare(
        "SELECT sc.id, sc.order_id, o.customer_id, sc.status, sc.message FROM support_cases sc JOIN orders o ON o.id = sc.order_id"
        " WHERE sc.id = ?"));
    s.bind(1, case_id);
    KEEL_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) return Status::not_found(fmt::format("no support case {}", case_id));
    return Json{{"case_id", s.column_text(0)}, {"order_id", s.column_text(1)}, {"customer_id", s.column_text(2)},
                {"status", s.column_text(3)}, {"message", s.column_text(4)}};
  }

  OrderSystem* sor_;
  ToolDefinition def_;
};

ToolDefinition make_definition(std::string name, std::string description, contract::Effect effect, Json input, Json output) {
  ToolDefinition d;
  d.name = std::move(name);
  d.description = std::move(description);
  d.effect = effect;
  d.input_schema = std::move(input);
  d.output_schema = std::move(output);
  d.timeout_ms = 5000;
  return d;
}

Json object_schema(Json properties, Json required) {
  return {{"type", "object"}, {"properties", std::move(properties)}, {"required", std::move(required)}, {"additionalProperties", false}};
}

const Json kId = {{"type", "string"}, {"minLength", 1}, {"maxLength", 64}};

class GetCase : public OrderTool {
 public:
  explicit GetCase(OrderSystem* s)
      : OrderTool(s, make_definition("get_case", "Read a support case: its order, customer, status and message.", contract::Effect::read,
                                object_schema({{"case_id", kId}}, {"case_id"}),
                                {{"type", "object"}, {"required", {"case_id", "order_id", "customer_id", "status", "message"}}})) {}
  Result<Json> call(const Json& args, const ToolCallContext&) override {
    KEEL_RETURN_IF_ERROR(injected_transient());
    return case_json(args["case_id"].get<std::string>());
  }
};

class LookupOrder : public OrderTool {
 public:
  explicit LookupOrder(OrderSystem* s)
      : OrderTool(s, make_definition("lookup_order", "Look up an order: items, total, delivery and refunds so far.", contract::Effect::read,
                                object_schema({{"order_id", kId}}, {"order_id"}),
                                {{"type", "object"}, {"required", {"order_id", "total", "refunded_total", "delivered"}}})) {}
  Result<Json> call(const Json& args, const ToolCallContext&) override {
    KEEL_RETURN_IF_ERROR(injected_transient());
    return order_json(args["order_id"].get<std::string>());
  }
};

class CheckRefundPolicy : public OrderTool {
 public:
  explicit CheckRefundPolicy(OrderSystem* s)
      : OrderTool(s, make_definition("check_refund_policy", "Whether an order may be refunded under the store's policy, and how much.",
                                contract::Effect::read, object_schema({{"order_id", kId}}, {"order_id"}),
                                {{"type", "object"},
                                 {"properties", {{"eligible", {{"type", "boolean"}}}, {"amount", {{"type", "number"}, {"minimum", 0}}},
                                                 {"rule", {{"type", "string"}}}}},
                                 {"required", {"eligible", "amount", "rule"}}})) {}
  Result<Json> call(const Json& args, const ToolCallContext&) override {
    KEEL_RETURN_IF_ERROR(injected_transient());
    KEEL_ASSIGN_OR_RETURN(Json o, order_json(args["order_id"].get<std::string>()));
    double open = money(o["total"].get<double>() - o["refunded_total"].get<double>());
    if (!o["delivered"].get<bool>()) {
      return Json{{"eligible", false}, {"amount", 0.0}, {"rule", "not delivered yet: open a delivery inquiry instead of a refund"}};
    }
    if (o["delivered_days_ago"].get<int64_t>() > 30) {
      return Json{{"eligible", false}, {"amount", 0.0}, {"rule", "delivered more than 30 days ago: outside the refund window"}};
    }
    if (open <= 0) return Json{{"eligible", false}, {"amount", 0.0}, {"rule", "already refunded in full"}};
    return Json{{"eligible", true}, {"amount", open}, {"rule", "delivered within 30 days: full refund of what is not yet refunded"}};
  }
};

class IssueRefund : public OrderTool {
 public:
  explicit IssueRefund(OrderSystem* s)
      : OrderTool(s, make_definition("issue_refund", "Refund money to the customer for an order. Irreversible.", contract::Effect::irreversible,
                                object_schema({{"case_id", kId},
                                               {"order_id", kId},
                                               {"amount", {{"type", "number"}, {"exclusiveMinimum", 0}, {"maximum", 100000}}},
                                               {"reason", {{"type", "string"}, {"minLength", 1}, {"maxLength", 500}}}},
                                              {"case_id", "order_id", "amount", "reason"}),
                                {{"type", "object"}, {"required", {"refund_id", "order_id", "amount", "status"}}})) {}
  Result<Json> call(const Json& args, const ToolCallContext& ctx) override {
    const std::string case_id = args["case_id"].get<std::string>();
    return apply_write(case_id, ctx, [&]() -> Result<Json> {
      KEEL_ASSIGN_OR_RETURN(Json o, order_json(args["order_id"].get<std::string>()));
      double amount = money(args["amount"].get<double>());
      double open = money(o["total"].get<double>() - o["refunded_total"].get<double>());
      if (amount > open + 1e-9) {
        return Status::failed_precondition(fmt::format("order {} has {:.2f} left to refund; {:.2f} was asked",
                                                       o["order_id"].get<std::string>(), open, amount));
      }
      KEEL_ASSIGN_OR_RETURN(Statement s, db().prepare("INSERT INTO refunds (order_id, case_id, amount, reason, idempotency_key) VALUES (?,?,?,?,?)"));
      s.bind(1, o["order_id"].get<std::string>()).bind(2, case_id).bind(3, amount).bind(4, args["reason"].get<std::string>());
      s.bind(5, ctx.idempotency_key);
      KEEL_RETURN_IF_ERROR(s.run());
      return Json{{"refund_id", db().last_insert_id()}, {"order_id", o["order_id"]}, {"amount", amount}, {"status", "issued"}};
    });
  }
};

class SetCaseStatus : public OrderTool {
 public:
  explicit SetCaseStatus(OrderSystem* s)
      : OrderTool(s, make_definition("set_case_status", "Change a support case's status.", contract::Effect::write,
                                object_schema({{"case_id", kId}, {"status", {{"enum", kCaseStatuses}}}}, {"case_id", "status"}),
                                {{"type", "object"}, {"required", {"case_id", "from", "to"}}})) {}
  Result<Json> call(const Json& args, const ToolCallContext& ctx) override {
    const std::string case_id = args["case_id"].get<std::string>();
    return apply_write(case_id, ctx, [&]() -> Result<Json> {
      KEEL_ASSIGN_OR_RETURN(Json c, case_json(case_id));
      std::string to = args["status"].get<std::string>();
      KEEL_ASSIGN_OR_RETURN(Statement u, db().prepare("UPDATE support_cases SET status = ? WHERE id = ?"));
      u.bind(1, to).bind(2, case_id);
      KEEL_RETURN_IF_ERROR(u.run());
      KEEL_ASSIGN_OR_RETURN(Statement s, db().prepare(
          "INSERT INTO status_changes (case_id, from_status, to_status, idempotency_key) VALUES (?,?,?,?)"));
      s.bind(1, case_id).bind(2, c["status"].get<std::string>()).bind(3, to).bind(4, ctx.idempotency_key);
      KEEL_RETURN_IF_ERROR(s.run());
      return Json{{"case_id", case_id}, {"from", c["status"]}, {"to", to}};
    });
  }
};

class AddCaseNote : public OrderTool {
 public:
  explicit AddCaseNote(OrderSystem* s)
      : OrderTool(s, make_definition("add_case_note", "Add a note to a support case's history.", contract::Effect::write,
                                object_schema({{"case_id", kId}, {"text", {{"type", "string"}, {"minLength", 1}, {"maxLength", 4000}}}},
                                              {"case_id", "text"}),
                                {{"type", "object"}, {"required", {"note_id", "case_id"}}})) {}
  Result<Json> call(const Json& args, const ToolCallContext& ctx) override {
    const std::string case_id = args["case_id"].get<std::string>();
    return apply_write(case_id, ctx, [&]() -> Result<Json> {
      KEEL_ASSIGN_OR_RETURN(Json c, case_json(case_id));
      KEEL_ASSIGN_OR_RETURN(Statement s, db().prepare("INSERT INTO case_notes (case_id, text, idempotency_key) VALUES (?,?,?)"));
      s.bind(1, case_id).bind(2, args["text"].get<std::string>()).bind(3, ctx.idempotency_key);
      KEEL_RETURN_IF_ERROR(s.run());
      return Json{{"note_id", db().last_insert_id()}, {"case_id", case_id}};
    });
  }
};

}  // namespace

OrderSystem::~OrderSystem() = default;

Result<std::shared_ptr<OrderSystem>> OrderSystem::open(const std::string& path) {
  SqliteOptions o;
  o.synchronous = "FULL";
  std::error_code ec;
  if (std::filesystem::file_size(path, ec) > 0 && !ec) {
    // Judge an existing file read-only first: opening it for writing may already change it (WAL).
    SqliteOptions probe;
    probe.read_only = true;
    probe.foreign_keys = false;
    KEEL_ASSIGN_OR_RETURN(auto existing, Database::open(path, probe));
    KEEL_ASSIGN_OR_RETURN(int64_t mark, single_integer(*existing, "PRAGMA application_id"));
    KEEL_ASSIGN_OR_RETURN(int64_t objects, single_integer(*existing, "SELECT COUNT(*) FROM sqlite_master"));
    if (mark != kSampleMark && objects > 0) {
      return Status::failed_precondition(fmt::format(
          "{} is not the sample order system's database (it holds {} other object(s)); the sample seeds only a "
          "database it creates. Point the component at a new file, or serve your own system's tools over MCP "
          "(kind: mcp-server)",
          path, objects));
    }
  }
  KEEL_ASSIGN_OR_RETURN(auto db, Database::open(path, o));
  KEEL_ASSIGN_OR_RETURN(int64_t mark, single_integer(*db, "PRAGMA application_id"));
  if (mark != kSampleMark) {  // a new or empty file
    KEEL_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(*db));
    KEEL_RETURN_IF_ERROR(db->exec(kSchema));
    KEEL_RETURN_IF_ERROR(db->exec(kSeed));
    KEEL_RETURN_IF_ERROR(db->exec(fmt::format("PRAGMA application_id = {}", kSampleMark)));
    KEEL_RETURN_IF_ERROR(tx.commit());
  }
  auto sor = std::shared_ptr<OrderSystem>(new OrderSystem());
  sor->db_ = std::move(db);
  sor->path_ = path;
  return sor;
}

std::vector<std::shared_ptr<Tool>> OrderSystem::tools() {
  return {std::make_shared<GetCase>(this),     std::make_shared<LookupOrder>(this),   std::make_shared<CheckRefundPolicy>(this),
          std::make_shared<IssueRefund>(this), std::make_shared<SetCaseStatus>(this), std::make_shared<AddCaseNote>(this)};
}

Result<OrderSystem::LedgerCounts> OrderSystem::ledger_for_case(const std::string& case_id) {
  LedgerCounts c;
  KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare("SELECT action, COUNT(*) FROM ledger WHERE case_id = ? GROUP BY action"));
  s.bind(1, case_id);
  for (;;) {
    KEEL_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) break;
    std::string action = s.column_text(0);
    int64_t n = s.column_int(1);
    if (action == "issue_refund") c.refunds = n;
    if (action == "set_case_status") c.status_changes = n;
    if (action == "add_case_note") c.notes = n;
  }
  KEEL_ASSIGN_OR_RETURN(Statement d, db_->prepare("SELECT COUNT(*) FROM dedupe_hits WHERE case_id = ?"));
  d.bind(1, case_id);
  KEEL_ASSIGN_OR_RETURN(bool row, d.step());
  if (row) c.dedupe_hits = d.column_int(0);
  return c;
}

Status OrderSystem::set_config(const std::string& key, int64_t value) {
  KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare("INSERT INTO config VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
  s.bind(1, key).bind(2, value);
  return s.run();
}

Result<int64_t> OrderSystem::config(const std::string& key) {
  KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare("SELECT value FROM config WHERE key = ?"));
  s.bind(1, key);
  KEEL_ASSIGN_OR_RETURN(bool row, s.step());
  return row ? s.column_int(0) : 0;
}

}  // namespace keel::samples
