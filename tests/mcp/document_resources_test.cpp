// MCP resource reads stay inside the documents folder: a document swapped for a symlink that
// leaves the folder (to a file or through a directory), or for a FIFO or another special file,
// is refused; a symlink that stays inside the folder is followed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <future>

#include "context/indexer.h"
#include "core/json.h"
#include "mcp/document_resources.h"
#include "support/test_support.h"

namespace keel::mcp {
namespace {

namespace fs = std::filesystem;

class DocumentResourcesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(docs() + "/sub");
    fs::create_directories(dir_.file("outside/sub"));
    testing::write_file(docs() + "/a.md", kText);
    testing::write_file(docs() + "/b.md", kText);
    testing::write_file(docs() + "/sub/c.md", kText);
    // Outside the folder, files with the very same bytes: only the path tells them apart.
    testing::write_file(dir_.file("outside/a.md"), kText);
    testing::write_file(dir_.file("outside/sub/c.md"), kText);
    context::IndexOptions o;
    o.docs_dir = docs();
    o.store_path = dir_.file("store.db");
    auto report = context::index_documents(o);
    ASSERT_TRUE(report.ok()) << report.status().to_string();
    ASSERT_EQ(report->indexed, 3u);
    auto r = DocumentResources::open(o.store_path, docs());
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    resources_ = *r;
    auto list = resources_->list();
    ASSERT_TRUE(list.ok());
    for (const auto& item : *list)
      uris_[item["name"].get<std::string>()] = item["uri"].get<std::string>();
    ASSERT_EQ(uris_.size(), 3u);
  }
  std::string docs() const { return dir_.file("docs"); }
  void replace_with_symlink(const std::string& rel, const std::string& target) {
    fs::remove_all(docs() + "/" + rel);
    fs::create_symlink(target, docs() + "/" + rel);
  }
  //! Reads with a deadlock guard: a read that blocks on a FIFO is unblocked (and fails).
  Result<Json> read_guarded(const std::string& uri, const std::string& fifo) {
    auto pending = std::async(std::launch::async, [&] { return resources_->read(uri); });
    if (pending.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
      ADD_FAILURE() << "the read blocked on a FIFO";
      int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
      if (fd >= 0) ::close(fd);
    }
    return pending.get();
  }

  static constexpr const char* kText = "# Notes\n\nThe quarterly figures are private.\n";
  testing::TempDir dir_;
  std::shared_ptr<DocumentResources> resources_;
  std::map<std::string, std::string> uris_;
};

TEST_F(DocumentResourcesTest, ReadsRegularDocuments) {
  for (const auto& [name, uri] : uris_) {
    auto r = resources_->read(uri);
    ASSERT_TRUE(r.ok()) << name << ": " << r.status().to_string();
    EXPECT_EQ((*r)["contents"][0]["text"], kText);
  }
}

TEST_F(DocumentResourcesTest, RefusesASymlinkThatLeavesTheFolder) {
  replace_with_symlink("a.md", dir_.file("outside/a.md"));
  auto r = resources_->read(uris_["a.md"]);
  ASSERT_FALSE(r.ok()) << "served a file outside the documents folder: " << dump_json(*r);
  EXPECT_EQ(r.status().code(), StatusCode::not_found);  // resources/read answers -32002
  EXPECT_NE(r.status().message().find("outside the documents folder"), std::string::npos)
      << r.status().to_string();
  // Relative links out are the same.
  replace_with_symlink("b.md", "../outside/a.md");
  auto relative = resources_->read(uris_["b.md"]);
  ASSERT_FALSE(relative.ok());
  EXPECT_NE(relative.status().message().find("outside the documents folder"), std::string::npos);
}

TEST_F(DocumentResourcesTest, RefusesADirectorySymlinkThatLeavesTheFolder) {
  replace_with_symlink("sub", dir_.file("outside/sub"));
  auto r = resources_->read(uris_["sub/c.md"]);
  ASSERT_FALSE(r.ok()) << "served a file outside the documents folder: " << dump_json(*r);
  EXPECT_NE(r.status().message().find("outside the documents folder"), std::string::npos)
      << r.status().to_string();
}

TEST_F(DocumentResourcesTest, FollowsASymlinkThatStaysInside) {
  replace_with_symlink("b.md", "a.md");
  auto r = resources_->read(uris_["b.md"]);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ((*r)["contents"][0]["text"], kText);
}

TEST_F(DocumentResourcesTest, RefusesSpecialFiles) {
  fs::remove(docs() + "/a.md");
  ASSERT_EQ(::mkfifo((docs() + "/a.md").c_str(), 0600), 0);
  auto r = read_guarded(uris_["a.md"], docs() + "/a.md");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not a regular file"), std::string::npos)
      << r.status().to_string();
  // A directory where the file was.
  fs::remove(docs() + "/sub/c.md");
  fs::create_directories(docs() + "/sub/c.md");
  auto folder = resources_->read(uris_["sub/c.md"]);
  ASSERT_FALSE(folder.ok());
  EXPECT_NE(folder.status().message().find("not a regular file"), std::string::npos)
      << folder.status().to_string();
}

}  // namespace
}  // namespace keel::mcp
