#include "context/extract.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "context/chunker.h"
#include "support/test_support.h"

namespace keel::context {
namespace {

using keel::testing::TempDir;

TEST(Extract, PlainTextAndMarkdownAreTheirOwnText) {
  auto md = extract_text(DocumentKind::markdown, "intro\n# The Title\n\nBody caf\xc3\xa9.\n");
  ASSERT_TRUE(md.ok());
  EXPECT_EQ(md->text, "intro\n# The Title\n\nBody caf\xc3\xa9.\n");
  EXPECT_EQ(md->title, "The Title");
  EXPECT_TRUE(md->pages.empty());
}

TEST(Extract, BadTextIsRefusedWithTheReason) {
  auto bad_utf8 = extract_text(DocumentKind::text, "ok \xff\xfe here", "x.txt");
  ASSERT_FALSE(bad_utf8.ok());
  EXPECT_NE(bad_utf8.status().message().find("not valid UTF-8 at byte 3"), std::string::npos);
  auto binary = extract_text(DocumentKind::text, std::string("ab\0cd", 5), "x.txt");
  EXPECT_NE(binary.status().message().find("binary"), std::string::npos);
  auto empty = extract_text(DocumentKind::markdown, "  \n\t\n", "x.md");
  EXPECT_NE(empty.status().message().find("no text"), std::string::npos);
}

TEST(Extract, HtmlKeepsVisibleTextOnly) {
  const char* html = R"(<!doctype html><html><head><title>Keel &amp; friends</title>
    <style>body { color: red; }</style><script>var secret = "do not index";</script></head>
    <body><h1>Heading</h1><p>First   paragraph
    with <b>bold</b> text.</p><ul><li>one</li><li>two</li></ul>
    <!-- a comment --><template><p>hidden</p></template><div>caf&eacute;</div></body></html>)";
  auto r = extract_text(DocumentKind::html, html);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->title, "Keel & friends");
  EXPECT_EQ(r->text, "Heading\n\nFirst paragraph with bold text.\n\none\n\ntwo\n\ncaf\xc3\xa9\n");
  EXPECT_EQ(r->text.find("secret"), std::string::npos);
  EXPECT_EQ(r->text.find("color"), std::string::npos);
  // Broken markup is recovered, never fatal.
  EXPECT_TRUE(extract_text(DocumentKind::html, "<p>unclosed <b>tags <i>everywhere").ok());
}

TEST(Extract, PdfPagesMapToByteRanges) {
  std::string pdf = keel::testing::source_dir() + "/examples/local-research/docs/scenarios/mobile-vision-guide.pdf";
  auto r = extract_file(pdf);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->pages.size(), 3u);
  EXPECT_EQ(r->pages[0].page, 1);
  EXPECT_EQ(r->pages[2].page, 3);
  EXPECT_LT(r->pages[0].end, r->pages[1].start);
  EXPECT_EQ(r->page_at(r->pages[1].start + 5), 2);
  EXPECT_FALSE(r->title.empty());
  auto damaged = extract_text(DocumentKind::pdf, "%PDF-1.4\nthis is not really a pdf", "d.pdf");
  EXPECT_FALSE(damaged.ok());
  EXPECT_FALSE(extract_text(DocumentKind::pdf, "not even a header", "e.pdf").ok());
}

TEST(Extract, FilesAreCheckedBeforeReading) {
  TempDir dir;
  EXPECT_EQ(extract_file(dir.file("none.md")).status().code(), StatusCode::not_found);
  EXPECT_EQ(extract_file(dir.file("photo.jpg")).status().code(), StatusCode::unimplemented);
  // A 100 MB file is refused from its size (a sparse file: nothing is written or read).
  std::string big = dir.file("huge.txt");
  keel::testing::write_file(big, "x");
  ASSERT_EQ(::truncate(big.c_str(), 100ll << 20), 0);
  auto r = extract_file(big);
  EXPECT_EQ(r.status().code(), StatusCode::resource_exhausted);
  EXPECT_NE(r.status().message().find("over the"), std::string::npos);
  EXPECT_TRUE(kind_from_path("a/b.MD") == DocumentKind::markdown);
  EXPECT_FALSE(kind_from_path("a.d/README").has_value());
}

TEST(Chunker, CoversTheTextOnBoundaries) {
  std::string text;
  for (int p = 0; p < 12; ++p) {
    for (int s = 0; s < 6; ++s) text += "Sentence number " + std::to_string(s) + " of paragraph " + std::to_string(p) + " says something. ";
    text += "\n\n";
  }
  ChunkOptions o;
  auto chunks = chunk_text(text, o);
  ASSERT_GT(chunks.size(), 3u);
  uint64_t previous_end = 0;
  for (const auto& c : chunks) {
    EXPECT_GE(c.start, previous_end);
    EXPECT_LE(c.end - c.start, o.max_bytes);
    EXPECT_NE(text[c.start], ' ');
    EXPECT_TRUE(text[c.end - 1] == '.' || text[c.end - 1] == ' ' || text[c.end - 1] == 's') << text.substr(c.end - 10, 10);
    // Nothing but whitespace lies between chunks.
    for (uint64_t i = previous_end; i < c.start; ++i) EXPECT_TRUE(std::isspace(static_cast<unsigned char>(text[i])));
    previous_end = c.end;
  }
  for (uint64_t i = previous_end; i < text.size(); ++i) EXPECT_TRUE(std::isspace(static_cast<unsigned char>(text[i])));
}

TEST(Chunker, NeverSplitsACharacterEvenInOneLongWord) {
  std::string word;
  for (int i = 0; i < 1000; ++i) word += "\xe2\x82\xac";  // 3000 bytes, no space
  auto chunks = chunk_text(word, {});
  ASSERT_GT(chunks.size(), 1u);
  for (const auto& c : chunks) {
    EXPECT_EQ(c.start % 3, 0u);
    EXPECT_EQ(c.end % 3, 0u);
  }
  EXPECT_EQ(chunks.back().end, word.size());
  EXPECT_TRUE(chunk_text("", {}).empty());
  EXPECT_EQ(chunk_text("short", {}).size(), 1u);
}

TEST(Chunker, NoChunkCrossesAPage) {
  // Two short pages would make one chunk by size; a citation must name one page, so they do not.
  std::string text = "Page one says this.\nPage two says that.";
  std::vector<PageRange> pages = {{0, 20, 1}, {20, text.size(), 2}};
  auto chunks = chunk_pages(text, pages, {});
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(text.substr(chunks[0].start, chunks[0].end - chunks[0].start), "Page one says this.");
  EXPECT_EQ(chunks[1].start, 20u);
  EXPECT_EQ(chunks[1].end, text.size());
  EXPECT_EQ(chunk_text(text, {}).size(), 1u) << "without pages it is one chunk";
  EXPECT_EQ(chunk_pages(text, {}, {}).size(), 1u);
}

}  // namespace
}  // namespace keel::context
