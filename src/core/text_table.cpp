#include "core/text_table.h"

#include <algorithm>

namespace keel {

size_t display_width(const std::string& text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

namespace {

// Splits text into lines of at most `width` code points, breaking at spaces when possible.
std::vector<std::string> wrap(const std::string& text, size_t width) {
  std::vector<std::string> lines;
  std::string line;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    std::string word = text.substr(start, end - start);
    if (!line.empty() && display_width(line) + 1 + display_width(word) > width) {
      lines.push_back(line);
      line.clear();
    }
    line += line.empty() ? word : " " + word;
    start = end + 1;
  }
  lines.push_back(line);
  return lines;
}

}  // namespace

void TextTable::add_row(std::vector<std::string> row) {
  row.resize(header_.size());
  rows_.push_back(std::move(row));
}

std::string TextTable::render(const std::string& indent) const {
  const size_t columns = header_.size();
  std::vector<std::vector<std::vector<std::string>>> cells;  // row -> column -> lines
  std::vector<size_t> widths(columns, 0);
  auto measure = [&](const std::vector<std::string>& row) {
    std::vector<std::vector<std::string>> wrapped(columns);
    for (size_t c = 0; c < columns; ++c) {
      wrapped[c] = c + 1 == columns || display_width(row[c]) <= max_width_
                       ? std::vector<std::string>{row[c]}
                       : wrap(row[c], max_width_);
      if (c + 1 == columns && display_width(row[c]) > max_width_ * 2) {
        wrapped[c] = wrap(row[c], max_width_ * 2);
      }
      for (const auto& l : wrapped[c]) widths[c] = std::max(widths[c], display_width(l));
    }
    cells.push_back(std::move(wrapped));
  };
  measure(header_);
  for (const auto& r : rows_) measure(r);

  std::string out;
  for (size_t r = 0; r < cells.size(); ++r) {
    size_t height = 1;
    for (const auto& c : cells[r]) height = std::max(height, c.size());
    for (size_t h = 0; h < height; ++h) {
      std::string line = indent;
      for (size_t c = 0; c < columns; ++c) {
        std::string text = h < cells[r][c].size() ? cells[r][c][h] : std::string();
        size_t pad = widths[c] - display_width(text);
        bool last = c + 1 == columns;
        if (right_[c]) {
          line += std::string(pad, ' ') + text;
        } else {
          line += text;
          if (!last) line += std::string(pad, ' ');
        }
        if (!last) line += "  ";
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + "\n";
    }
    if (r == 0) {
      std::string rule = indent;
      for (size_t c = 0; c < columns; ++c) {
        rule += std::string(widths[c], '-');
        if (c + 1 < columns) rule += "  ";
      }
      out += rule + "\n";
    }
  }
  return out;
}

}  // namespace keel
