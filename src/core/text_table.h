// Aligned plain-text tables for command output people read (plans, benchmarks, reports).
//
// Contract: columns are padded to the widest cell (counted in UTF-8 code points); a cell wider
// than max_width wraps onto continuation lines at spaces. Numeric columns may be right-aligned.
#pragma once

#include <string>
#include <vector>

namespace keel {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header, size_t max_width = 60)
      : header_(std::move(header)), max_width_(max_width), right_(header_.size(), false) {}
  void right_align(size_t column) { right_.at(column) = true; }
  void add_row(std::vector<std::string> row);
  //! Lines ending in '\n', each prefixed with `indent`.
  std::string render(const std::string& indent = "  ") const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
  size_t max_width_;
  std::vector<bool> right_;
};

//! Number of UTF-8 code points (display width for the text Keel prints).
size_t display_width(const std::string& text);

}  // namespace keel
