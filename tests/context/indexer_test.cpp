// The document store and the incremental indexer on real files, bad input included; citations
// checked against documents that change after indexing.
#include "context/indexer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>

#include "context/citations.h"
#include "core/hash.h"
#include "context/retriever.h"
#include "context/store.h"
#include "context/vector_index.h"
#include "support/test_support.h"

namespace keel::context {
namespace {

using keel::testing::TempDir;
using keel::testing::write_file;

struct Corpus {
  TempDir dir;
  std::string docs() const { return dir.path() + "/docs"; }
  std::string store() const { return dir.path() + "/store.db"; }
  Corpus() {
    write_file(docs() + "/cats.md", "# Cats\n\nCats sleep for most of the day and hunt at dusk.\n");
    write_file(docs() + "/sub/dogs.txt", "Dogs were domesticated from wolves. Dogs love long walks.\n");
    write_file(docs() + "/sub/page.html", "<html><head><title>Birds</title><script>var x=1;</script></head>"
                                          "<body><p>Swallows migrate south in autumn.</p></body></html>");
  }
};

Result<IndexReport> index(const Corpus& c) {
  IndexOptions o;
  o.docs_dir = c.docs();
  o.store_path = c.store();
  return index_documents(o);
}

TEST(Indexer, IndexesIncrementallyAndReportsFreshness) {
  Corpus c;
  auto first = index(c);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_EQ(first->indexed, 3u);
  EXPECT_EQ(first->documents_in_store, 3);
  auto again = index(c);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->indexed, 0u);
  EXPECT_EQ(again->unchanged, 3u);

  // Change one, add one, delete one, touch one without changing it. File timestamps are
  // coarse (a write a moment after the indexer saw the file may keep its mtime), so the test
  // moves the mtimes itself instead of waiting for the clock to tick.
  auto later = [](const std::string& path) {
    std::filesystem::last_write_time(
        path, std::filesystem::last_write_time(path) + std::chrono::seconds(2));
  };
  write_file(c.docs() + "/cats.md", "# Cats\n\nCats purr when content.\n");
  later(c.docs() + "/cats.md");
  write_file(c.docs() + "/new.txt", "Octopuses have three hearts.\n");
  std::filesystem::remove(c.docs() + "/sub/dogs.txt");
  later(c.docs() + "/sub/page.html");

  auto store = DocumentStore::open(c.store(), true);
  ASSERT_TRUE(store.ok());
  auto fresh = check_freshness(**store, c.docs());
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->stale, (std::vector<std::string>{"cats.md"}));
  EXPECT_EQ(fresh->missing, (std::vector<std::string>{"sub/dogs.txt"}));
  EXPECT_EQ(fresh->unindexed, (std::vector<std::string>{"new.txt"}));
  EXPECT_EQ(fresh->fresh, (std::vector<std::string>{"sub/page.html"}));  // same bytes
  store->reset();

  auto third = index(c);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->indexed, 2u);
  EXPECT_EQ(third->removed, 1u);
  EXPECT_EQ(third->touched, 1u);
  auto reopened = DocumentStore::open(c.store(), true);
  auto hits = (*reopened)->search_bm25("purr", 5);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(hits->size(), 1u);
  EXPECT_TRUE((*reopened)->search_bm25("dusk", 5)->empty());  // the old text is gone
}

TEST(Indexer, BadFilesAreSkippedWithReasonsAndNothingHalfWritten) {
  Corpus c;
  write_file(c.docs() + "/binary.txt", std::string("\x00\x01\x02", 3));
  write_file(c.docs() + "/latin1.txt", "caf\xe9 au lait");
  write_file(c.docs() + "/empty.md", "");
  write_file(c.docs() + "/image.png", "\x89PNG");
  write_file(c.docs() + "/huge.txt", "x");
  ASSERT_EQ(::truncate((c.docs() + "/huge.txt").c_str(), 100ll << 20), 0);
  std::filesystem::create_directory_symlink(c.docs(), c.docs() + "/sub/loop");
  write_file(c.docs() + "/broken.pdf", "%PDF-1.4 garbage");
  auto r = index(c);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->indexed, 3u);
  std::map<std::string, std::string> skipped(r->skipped.begin(), r->skipped.end());
  EXPECT_NE(skipped["binary.txt"].find("binary"), std::string::npos);
  EXPECT_NE(skipped["latin1.txt"].find("UTF-8"), std::string::npos);
  EXPECT_NE(skipped["empty.md"].find("no text"), std::string::npos);
  EXPECT_NE(skipped["image.png"].find("not a text"), std::string::npos);
  EXPECT_NE(skipped["huge.txt"].find("over the"), std::string::npos);
  EXPECT_NE(skipped["sub/loop"].find("loop"), std::string::npos);
  EXPECT_TRUE(skipped.count("broken.pdf"));
  EXPECT_TRUE(r->failed.empty());
  EXPECT_EQ(r->documents_in_store, 3);
}

TEST(Indexer, LinksThatLeaveTheFolderAreRefusedAndOnesInsideFollowed) {
  Corpus c;
  TempDir outside;
  write_file(outside.file("secret.txt"), "The root password is hunter2.\n");
  write_file(outside.file("private/notes.md"), "Private notes about hunter2.\n");
  std::filesystem::create_symlink(outside.file("secret.txt"), c.docs() + "/secret.txt");
  std::filesystem::create_directory_symlink(outside.file("private"), c.docs() + "/private");
  std::filesystem::create_symlink(c.docs() + "/cats.md", c.docs() + "/sub/cats-again.md");  // stays inside
  auto r = index(c);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  std::map<std::string, std::string> skipped(r->skipped.begin(), r->skipped.end());
  EXPECT_NE(skipped["secret.txt"].find("leads outside the documents folder"), std::string::npos);
  EXPECT_NE(skipped["private"].find("leads outside the documents folder"), std::string::npos);
  EXPECT_EQ(r->documents_in_store, 4) << "cats.md, sub/cats-again.md, sub/dogs.txt, sub/page.html";
  auto store = DocumentStore::open(c.store(), true);
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE((*store)->search_bm25("hunter2", 5)->empty()) << "no outside text reached the index";

  // A document swapped for a link after indexing is not quoted in a citation.
  Retriever retriever(**store, nullptr, nullptr);
  auto retrieved = retriever.retrieve("Which animals were domesticated from wolves?", {});
  ASSERT_TRUE(retrieved.ok() && !retrieved->empty());
  ASSERT_EQ(retrieved->front().document.path, "sub/dogs.txt");
  std::filesystem::remove(c.docs() + "/sub/dogs.txt");
  write_file(outside.file("dogs.txt"), "Dogs were domesticated from wolves. Dogs love long walks.\n");
  std::filesystem::create_symlink(outside.file("dogs.txt"), c.docs() + "/sub/dogs.txt");
  auto check = check_citations(whole_chunks({1}, *retrieved), *retrieved, c.docs());
  EXPECT_TRUE(check.valid.empty());
  ASSERT_EQ(check.rejected.size(), 1u);
  EXPECT_NE(check.rejected[0].reason.find("outside the documents folder"), std::string::npos) << check.rejected[0].reason;
  // And the next index run drops it instead of reading through the link.
  auto again = index(c);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->documents_in_store, 3);
}

TEST(Store, DamagedStoresAreRecognisedOnOpen) {
  TempDir dir;
  write_file(dir.file("junk.db"), std::string(8192, 'j'));
  auto junk = DocumentStore::open(dir.file("junk.db"), true);
  ASSERT_FALSE(junk.ok());
  EXPECT_EQ(junk.status().code(), StatusCode::data_loss);
  EXPECT_NE(junk.status().message().find("not a usable document store"), std::string::npos);
  EXPECT_EQ(DocumentStore::open(dir.file("none.db"), true).status().code(), StatusCode::not_found);

  Corpus c;
  ASSERT_TRUE(index(c).ok());
  // Overwrite bytes in the middle of the database file.
  {
    auto size = std::filesystem::file_size(c.store());
    ASSERT_GT(size, 8192u);
    std::fstream f(c.store(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 2));
    std::string noise(2000, '\x5a');
    f.write(noise.data(), static_cast<std::streamsize>(noise.size()));
  }
  auto damaged = DocumentStore::open(c.store(), true);
  EXPECT_FALSE(damaged.ok());
  EXPECT_EQ(damaged.status().code(), StatusCode::data_loss) << damaged.status().to_string();
}

TEST(Store, VectorIndexIsVerifiedBeforeUse) {
  TempDir dir;
  auto index_file = dir.file("v.hnsw");
  auto idx = VectorIndex::create(4, 8);
  for (int i = 0; i < 5; ++i) {
    std::vector<float> v = {1.0f * (i == 0), 1.0f * (i == 1), 0.5f, 0.5f};
    ASSERT_TRUE(idx->add(100 + i, v).ok());
  }
  auto sha = idx->save(index_file);
  ASSERT_TRUE(sha.ok());
  auto loaded = VectorIndex::load(index_file, 4, 5, *sha);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  std::vector<float> q = {1, 0, 0, 0};
  auto hits = (*loaded)->search(q, 2);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].chunk_id, 100);
  EXPECT_EQ(VectorIndex::load(index_file, 4, 5, std::string(64, '0')).status().code(), StatusCode::data_loss);
  EXPECT_EQ(VectorIndex::load(index_file, 4, 6, *sha).status().code(), StatusCode::data_loss);
}

TEST(Citations, ValidOnlyWhenRetrievedAndTheDocumentStillMatches) {
  Corpus c;
  ASSERT_TRUE(index(c).ok());
  auto store = DocumentStore::open(c.store(), true);
  ASSERT_TRUE(store.ok());
  Retriever retriever(**store, nullptr, nullptr);
  RetrievalOptions o;
  o.k = 3;
  auto retrieved = retriever.retrieve("Which animals were domesticated from wolves?", o);
  ASSERT_TRUE(retrieved.ok());
  ASSERT_FALSE(retrieved->empty());
  EXPECT_EQ(retrieved->front().document.path, "sub/dogs.txt");
  EXPECT_EQ(retrieved->front().bm25_rank, 1);

  EXPECT_EQ(cited_sources("Dogs [1]. Also [2, 3] and [1][4]; not [x] or []"), (std::vector<int>{1, 2, 3, 4}));
  auto check = check_citations(whole_chunks({1, 9}, *retrieved), *retrieved, c.docs());
  ASSERT_EQ(check.valid.size(), 1u);
  EXPECT_EQ(check.valid[0].doc, "sub/dogs.txt");
  EXPECT_EQ(check.valid[0].quote, "Dogs were domesticated from wolves. Dogs love long walks.");
  EXPECT_NE(check.valid[0].uri.find("keel-doc:sub/dogs.txt?range=0-"), std::string::npos);
  ASSERT_EQ(check.rejected.size(), 1u);
  EXPECT_NE(check.rejected[0].reason.find("not among"), std::string::npos);
  EXPECT_DOUBLE_EQ(check.validity(), 0.5);

  // A sentence inside the chunk is cited with its own bytes and hash; a range that leaves the
  // chunk is refused.
  const uint64_t chunk_start = (*retrieved)[0].chunk.start;
  auto sentence = check_citations({{1, chunk_start + 36, chunk_start + 57}}, *retrieved, c.docs());
  ASSERT_EQ(sentence.valid.size(), 1u);
  EXPECT_EQ(sentence.valid[0].quote, "Dogs love long walks.");
  EXPECT_EQ(sentence.valid[0].sha256, sha256_hex("Dogs love long walks."));
  auto outside = check_citations({{1, chunk_start, (*retrieved)[0].chunk.end + 1}}, *retrieved, c.docs());
  ASSERT_EQ(outside.rejected.size(), 1u);
  EXPECT_NE(outside.rejected[0].reason.find("not inside source [1]"), std::string::npos);

  // The document changes after indexing: the same citation no longer checks out.
  write_file(c.docs() + "/sub/dogs.txt", "Dogs were bred from foxes, they say. Dogs love long walks!!!\n");
  auto after = check_citations(whole_chunks({1}, *retrieved), *retrieved, c.docs());
  EXPECT_TRUE(after.valid.empty());
  ASSERT_EQ(after.rejected.size(), 1u);
  EXPECT_NE(after.rejected[0].reason.find("changed since it was indexed"), std::string::npos);
  std::filesystem::remove(c.docs() + "/sub/dogs.txt");
  EXPECT_NE(check_citations(whole_chunks({1}, *retrieved), *retrieved, c.docs()).rejected[0].reason.find("cannot be read"),
            std::string::npos);
}

TEST(Store, FtsQueriesAreSafeForAnyText) {
  EXPECT_EQ(DocumentStore::fts_query("What is the \"GGUF\" alignment? (AND OR NOT *)"),
            "\"gguf\" OR \"alignment\" OR \"not\"");
  EXPECT_EQ(DocumentStore::fts_query("?!"), "");
  Corpus c;
  ASSERT_TRUE(index(c).ok());
  auto store = DocumentStore::open(c.store(), true);
  for (const char* q : {"\"unbalanced", "NEAR(a b)", "*", "a:b", "-x", "\xe2\x82\xac"}) {
    EXPECT_TRUE((*store)->search_bm25(q, 5).ok()) << q;
  }
}

}  // namespace
}  // namespace keel::context
