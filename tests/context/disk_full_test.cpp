// Indexing into a store on a full disk: the store lives on a small tmpfs filled to the last
// byte, a real ENOSPC. The disk is full before a run, fills in the middle of one (between two
// documents) and fills just before the vector index is rewritten. Each time the run fails with
// resource_exhausted naming the store, nothing half-written stays, the store still opens
// (integrity-checked) with what it held, and once space is freed the same call finishes.
#include <gtest/gtest.h>

#include <filesystem>

#include "context/indexer.h"
#include "context/store.h"
#include "context/vector_index.h"
#include "core/hash.h"
#include "core/sqlite_db.h"
#include "support/small_filesystem.h"
#include "support/test_support.h"

namespace keel::context {
namespace {

using keel::testing::write_file;

std::string report_text(int i) {
  std::string text = "# Report " + std::to_string(i) + "\n\n";
  for (int j = 0; j < 400; ++j) {
    text += "Section " + std::to_string(j) + " of report " + std::to_string(i) +
            " describes the harvest, the rainfall and the yield in plain words. ";
  }
  return text + "\n";
}

void expect_consistent(const std::string& store_path) {
  SqliteOptions check;
  check.read_only = true;
  check.integrity_check = true;
  auto db = Database::open(store_path, check);
  EXPECT_TRUE(db.ok()) << db.status().to_string();
}

std::vector<std::string> stored_paths(const std::string& store_path) {
  auto store = DocumentStore::open(store_path, /*read_only=*/true);
  EXPECT_TRUE(store.ok()) << store.status().to_string();
  std::vector<std::string> out;
  if (!store.ok()) return out;
  auto documents = (*store)->documents();
  EXPECT_TRUE(documents.ok());
  for (const auto& d : *documents) out.push_back(d.path);
  return out;
}

void expect_disk_full(const Result<IndexReport>& r, const std::string& store_path) {
  ASSERT_FALSE(r.ok()) << "indexing into a full disk succeeded";
  EXPECT_EQ(r.status().code(), StatusCode::resource_exhausted) << r.status().to_string();
  EXPECT_NE(r.status().message().find(store_path), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("disk is full"), std::string::npos) << r.status().message();
}

TEST(IndexerDiskFull, FailsNamingTheStoreAndLeavesItConsistent) {
  keel::testing::SmallFilesystem fs(8 << 20);
  KEEL_REQUIRE_SMALL_FILESYSTEM(fs);
  keel::testing::TempDir docs;
  write_file(docs.file("a.md"), "# Cats\n\nCats sleep for most of the day and hunt at dusk.\n");
  write_file(docs.file("b.txt"), "Dogs were domesticated from wolves. Dogs love long walks.\n");
  IndexOptions o;
  o.docs_dir = docs.path();
  o.store_path = fs.file("store.db");
  auto first = index_documents(o);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  ASSERT_EQ(first->documents_in_store, 2);
  for (int i = 0; i < 4; ++i)
    write_file(docs.file("report-" + std::to_string(i) + ".md"), report_text(i));

  // 1. The disk is already full when the run starts.
  ASSERT_GT(fs.fill(), 0);
  expect_disk_full(index_documents(o), o.store_path);
  expect_consistent(o.store_path);
  EXPECT_EQ(stored_paths(o.store_path), (std::vector<std::string>{"a.md", "b.txt"}));
  fs.free_space();

  // 2. The disk fills in the middle of a run, right after the first new document committed:
  //    the second one's transaction meets ENOSPC and rolls back.
  std::vector<std::string> indexed;
  auto middle = index_documents(o, [&](const FileEvent& e) {
    if (e.outcome != FileOutcome::indexed) return;
    indexed.push_back(e.path);
    if (indexed.size() == 1) {
      ASSERT_GT(fs.fill(), 0);
    }
  });
  expect_disk_full(middle, o.store_path);
  ASSERT_EQ(indexed.size(), 1u) << "only the document before the disk filled was indexed";
  expect_consistent(o.store_path);
  EXPECT_EQ(stored_paths(o.store_path), (std::vector<std::string>{"a.md", "b.txt", indexed[0]}));

  // 3. Space is freed: the same call completes the index, and nothing half-written survived:
  //    the store holds the same chunks as a fresh index of the folder on a disk that never
  //    filled (a partial document would keep fewer, since the rerun skips documents it
  //    believes unchanged).
  fs.free_space();
  auto again = index_documents(o);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(again->documents_in_store, 6);
  EXPECT_EQ(again->indexed, 3u);
  keel::testing::TempDir fresh_dir;
  IndexOptions fresh = o;
  fresh.store_path = fresh_dir.file("store.db");
  auto reference = index_documents(fresh);
  ASSERT_TRUE(reference.ok()) << reference.status().to_string();
  EXPECT_EQ(again->chunks_in_store, reference->chunks_in_store);
  expect_consistent(o.store_path);
}

// hnswlib writes its file through an unchecked stream: on a full disk it leaves a short file
// that looks saved. The index in place must never be replaced by one.
TEST(IndexerDiskFull, AVectorIndexCutShortIsNeverPutInPlace) {
  keel::testing::SmallFilesystem fs(8 << 20);
  KEEL_REQUIRE_SMALL_FILESYSTEM(fs);
  keel::testing::TempDir docs;
  write_file(docs.file("a.md"), "# Cats\n\nCats sleep for most of the day and hunt at dusk.\n");
  write_file(docs.file("b.txt"), "Dogs were domesticated from wolves. Dogs love long walks.\n");
  IndexOptions o;
  o.docs_dir = docs.path();
  o.store_path = fs.file("store.db");
  o.embed_model = keel::testing::source_dir() + "/models/keel-tiny-embed.gguf";
  o.threads = 1;
  auto first = index_documents(o);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  const std::string index_path = VectorIndex::path_for_store(o.store_path);
  auto before = sha256_file(index_path);
  ASSERT_TRUE(before.ok());

  // Every new document commits; the disk fills before the vector index is rewritten.
  for (int i = 0; i < 4; ++i)
    write_file(docs.file("report-" + std::to_string(i) + ".md"), report_text(i));
  int indexed = 0;
  auto full = index_documents(o, [&](const FileEvent& e) {
    if (e.outcome == FileOutcome::indexed && ++indexed == 4) {
      ASSERT_GT(fs.fill(), 0);
    }
  });
  ASSERT_EQ(indexed, 4);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().code(), StatusCode::resource_exhausted) << full.status().to_string();
  EXPECT_NE(full.status().message().find(o.store_path), std::string::npos)
      << full.status().message();
  auto after = sha256_file(index_path);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(to_hex(*after), to_hex(*before)) << "the index in place was replaced";
  EXPECT_FALSE(std::filesystem::exists(index_path + ".next"));
  expect_consistent(o.store_path);

  // Space is freed: no document changed since, yet the run rebuilds the vector index, and the
  // rebuilt one covers every chunk and matches the store's record of it.
  fs.free_space();
  auto again = index_documents(o);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(again->indexed, 0u);
  auto store = DocumentStore::open(o.store_path, true);
  ASSERT_TRUE(store.ok());
  auto recorded = (*store)->meta("vector_index_sha256");
  auto dims = (*store)->meta("embed_dims");
  ASSERT_TRUE(recorded.ok() && *recorded && dims.ok() && *dims);
  auto loaded = VectorIndex::load(index_path, std::stoi(**dims),
                                  static_cast<size_t>(again->chunks_in_store), **recorded);
  EXPECT_TRUE(loaded.ok()) << loaded.status().to_string();
}

}  // namespace
}  // namespace keel::context
