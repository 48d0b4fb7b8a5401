#include "contract/condition.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <set>
#include <variant>

#include "core/json.h"

namespace keel::contract {

struct Condition::Node {
  enum class Kind { literal, path, list, unary_not, binary };
  Kind kind = Kind::literal;
  Json value;                         // literal
  std::vector<std::string> path;      // path
  std::vector<std::shared_ptr<const Node>> children;  // list items, or operands
  std::string op;                     // binary operator
};

namespace {

using NodePtr = std::shared_ptr<const Condition::Node>;
constexpr size_t kMaxDepth = 64;
constexpr size_t kMaxLength = 4096;

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<NodePtr> parse() {
    if (text_.size() > kMaxLength) {
      return Status::invalid_argument(fmt::format("a condition may be at most {} characters", kMaxLength));
    }
    auto e = expr(0);
    if (!e.ok()) return e;
    skip_space();
    if (pos_ != text_.size()) return error("unexpected text");
    return e;
  }

 private:
  Status error(std::string_view what) const {
    std::string near = pos_ < text_.size() ? fmt::format(" near '{}'", text_.substr(pos_, 12)) : " at the end";
    return Status::invalid_argument(fmt::format("condition '{}': {} at column {}{}", text_, what, pos_ + 1, near));
  }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool accept(std::string_view token) {
    skip_space();
    if (text_.substr(pos_, token.size()) != token) return false;
    // Keywords must not run into a name: `in` is not the start of `index`.
    if (std::isalpha(static_cast<unsigned char>(token.back())) && pos_ + token.size() < text_.size()) {
      unsigned char next = static_cast<unsigned char>(text_[pos_ + token.size()]);
      if (std::isalnum(next) || next == '_') return false;
    }
    pos_ += token.size();
    return true;
  }

  Result<NodePtr> expr(size_t depth) { return or_expr(depth); }

  Result<NodePtr> binary_chain(size_t depth, std::string_view op, Result<NodePtr> (Parser::*next)(size_t)) {
    KEEL_ASSIGN_OR_RETURN(NodePtr left, (this->*next)(depth));
    while (accept(op)) {
      KEEL_ASSIGN_OR_RETURN(NodePtr right, (this->*next)(depth));
      auto n = std::make_shared<Condition::Node>();
      n->kind = Condition::Node::Kind::binary;
      n->op = std::string(op);
      n->children = {left, right};
      left = n;
    }
    return left;
  }
  Result<NodePtr> or_expr(size_t depth) { return binary_chain(depth, "||", &Parser::and_expr); }
  Result<NodePtr> and_expr(size_t depth) { return binary_chain(depth, "&&", &Parser::not_expr); }

  Result<NodePtr> not_expr(size_t depth) {
    if (depth > kMaxDepth) return error("nesting is too deep");
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == '!' && text_.substr(pos_, 2) != "!=") {
      ++pos_;
      KEEL_ASSIGN_OR_RETURN(NodePtr operand, not_expr(depth + 1));
      auto n = std::make_shared<Condition::Node>();
      n->kind = Condition::Node::Kind::unary_not;
      n->children = {operand};
      return NodePtr(n);
    }
    return compare(depth);
  }

  Result<NodePtr> compare(size_t depth) {
    KEEL_ASSIGN_OR_RETURN(NodePtr left, value(depth));
    for (std::string_view op : {"==", "!=", "<=", ">=", "<", ">", "in"}) {
      if (accept(op)) {
        KEEL_ASSIGN_OR_RETURN(NodePtr right, value(depth));
        auto n = std::make_shared<Condition::Node>();
        n->kind = Condition::Node::Kind::binary;
        n->op = std::string(op);
        n->children = {left, right};
        return NodePtr(n);
      }
    }
    return left;
  }

  Result<NodePtr> value(size_t depth) {
    if (depth > kMaxDepth) return error("nesting is too deep");
    skip_space();
    if (pos_ >= text_.size()) return error("expected a value");
    auto n = std::make_shared<Condition::Node>();
    char c = text_[pos_];
    if (c == '(') {
      ++pos_;
      KEEL_ASSIGN_OR_RETURN(NodePtr inner, expr(depth + 1));
      if (!accept(")")) return error("expected ')'");
      return inner;
    }
    if (c == '[') {
      ++pos_;
      n->kind = Condition::Node::Kind::list;
      if (!accept("]")) {
        do {
          KEEL_ASSIGN_OR_RETURN(NodePtr item, value(depth + 1));
          n->children.push_back(item);
        } while (accept(","));
        if (!accept("]")) return error("expected ']'");
      }
      return NodePtr(n);
    }
    if (c == '\'' || c == '"') {
      size_t end = text_.find(c, pos_ + 1);
      if (end == std::string_view::npos) return error("unterminated string");
      n->value = std::string(text_.substr(pos_ + 1, end - pos_ - 1));
      pos_ = end + 1;
      return NodePtr(n);
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '-') {
      size_t start = pos_;
      ++pos_;
      while (pos_ < text_.size() && (std::isdigit(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '.')) ++pos_;
      double v = 0;
      auto [ptr, ec] = std::from_chars(text_.data() + start, text_.data() + pos_, v);
      if (ec != std::errc() || ptr != text_.data() + pos_) {
        pos_ = start;
        return error("malformed number");
      }
      n->value = v;
      return NodePtr(n);
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      std::vector<std::string> parts;
      for (;;) {
        size_t start = pos_;
        while (pos_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_')) ++pos_;
        if (start == pos_) return error("expected a name after '.'");
        parts.emplace_back(text_.substr(start, pos_ - start));
        if (pos_ < text_.size() && text_[pos_] == '.') {
          ++pos_;
          continue;
        }
        break;
      }
      if (parts.size() == 1 && (parts[0] == "true" || parts[0] == "false")) {
        n->value = parts[0] == "true";
      } else if (parts.size() == 1 && parts[0] == "null") {
        n->value = nullptr;
      } else if (parts.size() == 1 && parts[0] == "in") {
        pos_ -= 2;
        return error("expected a value");
      } else {
        n->kind = Condition::Node::Kind::path;
        n->path = std::move(parts);
      }
      return NodePtr(n);
    }
    return error("expected a value");
  }

  std::string_view text_;
  size_t pos_ = 0;
};

std::string type_name(const Json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "boolean";
  if (v.is_number()) return "number";
  if (v.is_string()) return "string";
  if (v.is_array()) return "list";
  return "object";
}

Result<Json> eval(const Condition::Node& n, const Json& vars) {
  using Kind = Condition::Node::Kind;
  switch (n.kind) {
    case Kind::literal: return n.value;
    case Kind::path: {
      const Json* cur = &vars;
      for (const auto& p : n.path) {
        if (!cur->is_object()) return Json(nullptr);
        auto it = cur->find(p);
        if (it == cur->end()) return Json(nullptr);
        cur = &*it;
      }
      return *cur;
    }
    case Kind::list: {
      Json out = Json::array();
      for (const auto& c : n.children) {
        KEEL_ASSIGN_OR_RETURN(Json v, eval(*c, vars));
        out.push_back(std::move(v));
      }
      return out;
    }
    case Kind::unary_not: {
      KEEL_ASSIGN_OR_RETURN(Json v, eval(*n.children[0], vars));
      if (!v.is_boolean()) return Status::invalid_argument(fmt::format("'!' needs a boolean, not a {}", type_name(v)));
      return Json(!v.get<bool>());
    }
    case Kind::binary: break;
  }
  if (n.op == "&&" || n.op == "||") {
    KEEL_ASSIGN_OR_RETURN(Json l, eval(*n.children[0], vars));
    if (!l.is_boolean()) return Status::invalid_argument(fmt::format("'{}' needs booleans, not a {}", n.op, type_name(l)));
    if (n.op == "&&" && !l.get<bool>()) return Json(false);
    if (n.op == "||" && l.get<bool>()) return Json(true);
    KEEL_ASSIGN_OR_RETURN(Json r, eval(*n.children[1], vars));
    if (!r.is_boolean()) return Status::invalid_argument(fmt::format("'{}' needs booleans, not a {}", n.op, type_name(r)));
    return r;
  }
  KEEL_ASSIGN_OR_RETURN(Json l, eval(*n.children[0], vars));
  KEEL_ASSIGN_OR_RETURN(Json r, eval(*n.children[1], vars));
  if (n.op == "in") {
    if (r.is_array()) {
      for (const auto& x : r) {
        if (x == l) return Json(true);
      }
      return Json(false);
    }
    if (r.is_string() && l.is_string()) return Json(r.get<std::string>().find(l.get<std::string>()) != std::string::npos);
    if (r.is_null()) return Json(false);
    return Status::invalid_argument(fmt::format("'in' needs a list or a string on its right, not a {}", type_name(r)));
  }
  if (n.op == "==" || n.op == "!=") {
    bool comparable = l.is_null() || r.is_null() || type_name(l) == type_name(r);
    if (!comparable) {
      return Status::invalid_argument(fmt::format("cannot compare a {} with a {} using '{}'", type_name(l), type_name(r), n.op));
    }
    bool eq = l.is_number() && r.is_number() ? l.get<double>() == r.get<double>() : l == r;
    return Json(n.op == "==" ? eq : !eq);
  }
  // Ordering: numbers with numbers, strings with strings.
  if (l.is_number() && r.is_number()) {
    double a = l.get<double>(), b = r.get<double>();
    bool v = n.op == "<" ? a < b : n.op == "<=" ? a <= b : n.op == ">" ? a > b : a >= b;
    return Json(v);
  }
  if (l.is_string() && r.is_string()) {
    const auto &a = l.get_ref<const std::string&>(), &b = r.get_ref<const std::string&>();
    bool v = n.op == "<" ? a < b : n.op == "<=" ? a <= b : n.op == ">" ? a > b : a >= b;
    return Json(v);
  }
  return Status::invalid_argument(fmt::format("cannot order a {} and a {} with '{}'", type_name(l), type_name(r), n.op));
}

void collect_roots(const Condition::Node& n, std::set<std::string>& out) {
  if (n.kind == Condition::Node::Kind::path) out.insert(n.path.front());
  for (const auto& c : n.children) collect_roots(*c, out);
}

}  // namespace

Condition::Condition() = default;
Condition::~Condition() = default;
Condition::Condition(const Condition&) = default;
Condition& Condition::operator=(const Condition&) = default;
Condition::Condition(Condition&&) noexcept = default;
Condition& Condition::operator=(Condition&&) noexcept = default;

Result<Condition> Condition::parse(std::string_view text) {
  Parser p(text);
  auto root = p.parse();
  if (!root.ok()) return root.status();
  Condition c;
  c.text_ = std::string(text);
  c.root_ = *root;
  return c;
}

Result<bool> Condition::evaluate(const Json& variables) const {
  if (!root_) return Status::failed_precondition("empty condition");
  auto v = eval(*root_, variables);
  if (!v.ok()) return Status::invalid_argument(fmt::format("condition '{}': {}", text_, v.status().message()));
  if (!v->is_boolean()) {
    return Status::invalid_argument(fmt::format("condition '{}' gives a {}, not true or false", text_, type_name(*v)));
  }
  return v->get<bool>();
}

std::vector<std::string> Condition::roots() const {
  std::set<std::string> out;
  if (root_) collect_roots(*root_, out);
  return {out.begin(), out.end()};
}

}  // namespace keel::contract
