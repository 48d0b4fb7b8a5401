#include "engine/regex_split.h"

#include <fmt/format.h>

#include "engine/unicode.h"

namespace keel::engine {

// ---- pattern tree --------------------------------------------------------------------------

struct ClassItem {
  enum Kind { range, letter, number, punctuation, symbol, mark, whitespace, not_whitespace, digit } kind;
  uint32_t lo = 0, hi = 0;
};

struct RegexNode {
  enum Kind { literal, char_class, sequence, alternation, repeat, lookahead, end_anchor, start_anchor };
  Kind kind;
  uint32_t cp = 0;                // literal
  bool ignore_case = false;       // literal
  std::vector<ClassItem> items;   // char_class
  bool negated = false;           // char_class, lookahead
  std::vector<std::unique_ptr<RegexNode>> children;  // sequence, alternation, repeat[0], lookahead[0]
  int min = 0, max = -1;          // repeat (max -1: unbounded)

  bool single_char() const { return kind == literal || kind == char_class; }
};

namespace {

bool item_matches(const ClassItem& item, uint32_t c) {
  switch (item.kind) {
    case ClassItem::range: return c >= item.lo && c <= item.hi;
    case ClassItem::letter: return char_class(c) == CharClass::letter;
    case ClassItem::number: return char_class(c) == CharClass::number;
    case ClassItem::punctuation: return char_class(c) == CharClass::punctuation;
    case ClassItem::symbol: return char_class(c) == CharClass::symbol;
    case ClassItem::mark: return char_class(c) == CharClass::mark;
    case ClassItem::whitespace: return is_whitespace(c);
    case ClassItem::not_whitespace: return !is_whitespace(c);
    case ClassItem::digit: return c >= '0' && c <= '9';
  }
  return false;
}

bool char_matches(const RegexNode& n, uint32_t c) {
  if (n.kind == RegexNode::literal) {
    return n.ignore_case ? to_lower(c) == to_lower(n.cp) : c == n.cp;
  }
  bool any = false;
  for (const auto& item : n.items) {
    if (item_matches(item, c)) {
      any = true;
      break;
    }
  }
  return any != n.negated;
}

class Parser {
 public:
  explicit Parser(std::string_view pattern) : cps_(utf8_to_codepoints(pattern)) {}

  Result<std::unique_ptr<RegexNode>> parse() {
    auto node = parse_alternation(false);
    if (!error_.empty()) return Status::invalid_argument(error_);
    if (pos_ != cps_.size()) return Status::invalid_argument(fmt::format("regex: unbalanced ')' at {}", pos_));
    return node;
  }

 private:
  bool at_end() const { return pos_ >= cps_.size(); }
  uint32_t peek() const { return at_end() ? 0 : cps_[pos_]; }
  void fail(std::string message) {
    if (error_.empty()) error_ = fmt::format("regex: {} at offset {}", message, pos_);
  }

  std::unique_ptr<RegexNode> parse_alternation(bool ignore_case) {
    auto alt = std::make_unique<RegexNode>();
    alt->kind = RegexNode::alternation;
    alt->children.push_back(parse_sequence(ignore_case));
    while (!at_end() && peek() == '|') {
      ++pos_;
      alt->children.push_back(parse_sequence(ignore_case));
    }
    if (alt->children.size() == 1) return std::move(alt->children[0]);
    return alt;
  }

  std::unique_ptr<RegexNode> parse_sequence(bool ignore_case) {
    auto seq = std::make_unique<RegexNode>();
    seq->kind = RegexNode::sequence;
    while (!at_end() && peek() != '|' && peek() != ')' && error_.empty()) {
      auto atom = parse_atom(ignore_case);
      if (!atom) break;
      seq->children.push_back(parse_quantifier(std::move(atom)));
    }
    return seq;
  }

  std::unique_ptr<RegexNode> parse_quantifier(std::unique_ptr<RegexNode> atom) {
    if (at_end()) return atom;
    int min = -1, max = -1;
    uint32_t c = peek();
    if (c == '?') {
      min = 0, max = 1, ++pos_;
    } else if (c == '*') {
      min = 0, max = -1, ++pos_;
    } else if (c == '+') {
      min = 1, max = -1, ++pos_;
    } else if (c == '{') {
      size_t save = pos_++;
      auto number = [&]() -> int {
        int v = -1;
        while (!at_end() && peek() >= '0' && peek() <= '9') v = (v < 0 ? 0 : v * 10) + (cps_[pos_++] - '0');
        return v;
      };
      min = number();
      max = min;
      if (!at_end() && peek() == ',') {
        ++pos_;
        max = number();  // -1: unbounded
      }
      if (min < 0 || at_end() || peek() != '}') {
        pos_ = save;  // not a quantifier: a literal '{'
        return atom;
      }
      ++pos_;
    } else {
      return atom;
    }
    if (atom->kind == RegexNode::end_anchor || atom->kind == RegexNode::start_anchor) {
      fail("quantifier after an anchor");
    }
    auto rep = std::make_unique<RegexNode>();
    rep->kind = RegexNode::repeat;
    rep->min = min;
    rep->max = max;
    rep->children.push_back(std::move(atom));
    return rep;
  }

  uint32_t parse_hex(size_t digits_max, bool braced) {
    uint32_t v = 0;
    size_t n = 0;
    while (!at_end() && n < digits_max) {
      uint32_t c = peek();
      int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
      if (d < 0) break;
      v = v * 16 + d;
      ++pos_, ++n;
    }
    if (n == 0) fail("expected hex digits");
    if (braced) {
      if (at_end() || peek() != '}') fail("expected '}'");
      else ++pos_;
    }
    return v;
  }

  // After a backslash: fills `item` for a class escape, or returns a literal code point.
  bool parse_escape(ClassItem* item, uint32_t* literal, bool* negated_class) {
    if (at_end()) {
      fail("trailing backslash");
      return false;
    }
    uint32_t c = cps_[pos_++];
    *negated_class = false;
    switch (c) {
      case 's': *item = {ClassItem::whitespace}; return true;
      case 'S': *item = {ClassItem::not_whitespace}; return true;
      case 'd': *item = {ClassItem::digit}; return true;
      case 'D': *item = {ClassItem::digit}; *negated_class = true; return true;
      case 'r': *literal = '\r'; return false;
      case 'n': *literal = '\n'; return false;
      case 't': *literal = '\t'; return false;
      case 'f': *literal = '\f'; return false;
      case 'v': *literal = '\v'; return false;
      case 'x':
        if (!at_end() && peek() == '{') {
          ++pos_;
          *literal = parse_hex(8, true);
        } else {
          *literal = parse_hex(2, false);
        }
        return false;
      case 'u': *literal = parse_hex(4, false); return false;
      case 'p':
      case 'P': {
        if (at_end() || peek() != '{') {
          fail("expected '{' after \\p");
          return false;
        }
        ++pos_;
        std::string name;
        while (!at_end() && peek() != '}') name += static_cast<char>(cps_[pos_++]);
        if (at_end()) {
          fail("unterminated \\p{");
          return false;
        }
        ++pos_;
        if (name == "L" || name == "Lu" || name == "Ll" || name == "Lt" || name == "Lm" || name == "Lo") {
          *item = {ClassItem::letter};
        } else if (name == "N") {
          *item = {ClassItem::number};
        } else if (name == "P") {
          *item = {ClassItem::punctuation};
        } else if (name == "S") {
          *item = {ClassItem::symbol};
        } else if (name == "M") {
          *item = {ClassItem::mark};
        } else {
          fail("unsupported class \\p{" + name + "}");
        }
        *negated_class = c == 'P';
        return true;
      }
      default: *literal = c; return false;  // escaped punctuation and the like
    }
  }

  std::unique_ptr<RegexNode> parse_class() {
    auto node = std::make_unique<RegexNode>();
    node->kind = RegexNode::char_class;
    if (!at_end() && peek() == '^') {
      node->negated = true;
      ++pos_;
    }
    bool first = true;
    while (!at_end() && (peek() != ']' || first)) {
      first = false;
      uint32_t lo;
      if (peek() == '\\') {
        ++pos_;
        ClassItem item;
        bool negated_item;
        if (parse_escape(&item, &lo, &negated_item)) {
          if (negated_item) {
            if (item.kind == ClassItem::whitespace) {
              item.kind = ClassItem::not_whitespace;
            } else {
              fail("negated class escape inside [...] is not supported");
            }
          }
          node->items.push_back(item);
          continue;
        }
      } else {
        lo = cps_[pos_++];
      }
      uint32_t hi = lo;
      if (pos_ + 1 < cps_.size() && peek() == '-' && cps_[pos_ + 1] != ']') {
        ++pos_;
        if (peek() == '\\') {
          ++pos_;
          ClassItem item;
          bool negated_item;
          if (parse_escape(&item, &hi, &negated_item)) fail("class escape as a range end");
        } else {
          hi = cps_[pos_++];
        }
        if (hi < lo) fail("range out of order");
      }
      node->items.push_back({ClassItem::range, lo, hi});
    }
    if (at_end()) fail("unterminated [");
    else ++pos_;
    return node;
  }

  std::unique_ptr<RegexNode> parse_atom(bool ignore_case) {
    uint32_t c = cps_[pos_];
    if (c == '(') {
      ++pos_;
      bool group_ignore_case = ignore_case;
      if (!at_end() && peek() == '?') {
        ++pos_;
        uint32_t kind = at_end() ? 0 : cps_[pos_++];
        if (kind == '=' || kind == '!') {
          auto look = std::make_unique<RegexNode>();
          look->kind = RegexNode::lookahead;
          look->negated = kind == '!';
          look->children.push_back(parse_alternation(ignore_case));
          expect_close();
          return look;
        }
        if (kind == 'i' && !at_end() && peek() == ':') {
          ++pos_;
          group_ignore_case = true;
        } else if (kind != ':') {
          fail("unsupported group syntax");
          return nullptr;
        }
      }
      auto inner = parse_alternation(group_ignore_case);
      expect_close();
      return inner;
    }
    if (c == ')' || c == '|') return nullptr;
    ++pos_;
    auto node = std::make_unique<RegexNode>();
    switch (c) {
      case '[': return parse_class();
      case '$': node->kind = RegexNode::end_anchor; return node;
      case '^': node->kind = RegexNode::start_anchor; return node;
      case '.':
        node->kind = RegexNode::char_class;
        node->negated = true;
        node->items.push_back({ClassItem::range, '\n', '\n'});
        node->items.push_back({ClassItem::range, '\r', '\r'});
        return node;
      case '*':
      case '+':
      case '?': fail("nothing to repeat"); return nullptr;
      case '\\': {
        ClassItem item;
        uint32_t literal = 0;
        bool negated;
        if (parse_escape(&item, &literal, &negated)) {
          node->kind = RegexNode::char_class;
          node->items.push_back(item);
          node->negated = negated;
          return node;
        }
        node->kind = RegexNode::literal;
        node->cp = literal;
        node->ignore_case = ignore_case;
        return node;
      }
      default:
        node->kind = RegexNode::literal;
        node->cp = c;
        node->ignore_case = ignore_case;
        return node;
    }
  }

  void expect_close() {
    if (at_end() || peek() != ')') {
      fail("expected ')'");
    } else {
      ++pos_;
    }
  }

  std::vector<uint32_t> cps_;
  size_t pos_ = 0;
  std::string error_;
};

// A non-owning callable reference: the continuation of the match so far.
class Continuation {
 public:
  template <typename F>
  Continuation(F& f) : object_(&f), call_([](void* o, size_t p) { return (*static_cast<F*>(o))(p); }) {}  // NOLINT
  bool operator()(size_t pos) const { return call_(object_, pos); }

 private:
  void* object_;
  bool (*call_)(void*, size_t);
};

class Matcher {
 public:
  Matcher(const uint32_t* cps, size_t end) : cps_(cps), end_(end) {}

  bool match(const RegexNode& n, size_t pos, Continuation k) const {
    switch (n.kind) {
      case RegexNode::literal:
      case RegexNode::char_class:
        return pos < end_ && char_matches(n, cps_[pos]) && k(pos + 1);
      case RegexNode::sequence: return match_sequence(n, 0, pos, k);
      case RegexNode::alternation:
        for (const auto& alt : n.children) {
          if (match(*alt, pos, k)) return true;
        }
        return false;
      case RegexNode::repeat: return match_repeat(n, pos, k);
      case RegexNode::lookahead: {
        auto accept = [](size_t) { return true; };
        bool found = match(*n.children[0], pos, Continuation(accept));
        return found != n.negated && k(pos);
      }
      case RegexNode::end_anchor: return pos == end_ && k(pos);
      case RegexNode::start_anchor: return pos == 0 && k(pos);
    }
    return false;
  }

 private:
  bool match_sequence(const RegexNode& n, size_t index, size_t pos, Continuation k) const {
    if (index == n.children.size()) return k(pos);
    auto next = [&](size_t p) { return match_sequence(n, index + 1, p, k); };
    return match(*n.children[index], pos, Continuation(next));
  }

  bool match_repeat(const RegexNode& n, size_t pos, Continuation k) const {
    const RegexNode& body = *n.children[0];
    if (body.single_char()) {
      // Greedy run, then give back one character at a time: no recursion per character.
      size_t limit = n.max < 0 ? end_ - pos : std::min<size_t>(n.max, end_ - pos);
      size_t run = 0;
      while (run < limit && char_matches(body, cps_[pos + run])) ++run;
      for (size_t taken = run + 1; taken-- > static_cast<size_t>(n.min);) {
        if (k(pos + taken)) return true;
        if (taken == 0) break;
      }
      return false;
    }
    return match_repeat_general(n, 0, pos, k);
  }

  bool match_repeat_general(const RegexNode& n, int count, size_t pos, Continuation k) const {
    if (n.max < 0 || count < n.max) {
      auto more = [&](size_t p) { return p != pos && match_repeat_general(n, count + 1, p, k); };
      if (match(*n.children[0], pos, Continuation(more))) return true;
    }
    return count >= n.min && k(pos);
  }

  const uint32_t* cps_;
  size_t end_;
};

}  // namespace

Regex::Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;
Regex::~Regex() = default;

Result<Regex> Regex::compile(std::string_view pattern) {
  Parser parser(pattern);
  KEEL_ASSIGN_OR_RETURN(auto root, parser.parse());
  Regex r;
  r.root_ = std::move(root);
  return r;
}

int64_t Regex::match_at(const uint32_t* cps, size_t end, size_t pos) const {
  Matcher m(cps, end);
  int64_t result = -1;
  auto done = [&](size_t p) {
    result = static_cast<int64_t>(p - pos);
    return true;
  };
  m.match(*root_, pos, Continuation(done));
  return result;
}

std::vector<Segment> regex_split(const std::vector<uint32_t>& cps,
                                 const std::vector<const Regex*>& regexes) {
  std::vector<Segment> segments = {{0, cps.size()}};
  if (cps.empty()) return {};
  for (const Regex* regex : regexes) {
    std::vector<Segment> next;
    for (const Segment& s : segments) {
      // Matching sees only this segment: its end is the end of input.
      const uint32_t* base = cps.data() + s.offset;
      size_t gap_start = 0, pos = 0;
      while (pos < s.length) {
        int64_t len = regex->match_at(base, s.length, pos);
        if (len <= 0) {
          ++pos;
          continue;
        }
        if (pos > gap_start) next.push_back({s.offset + gap_start, pos - gap_start});
        next.push_back({s.offset + pos, static_cast<size_t>(len)});
        pos += len;
        gap_start = pos;
      }
      if (gap_start < s.length) next.push_back({s.offset + gap_start, s.length - gap_start});
    }
    segments = std::move(next);
  }
  return segments;
}

}  // namespace keel::engine
