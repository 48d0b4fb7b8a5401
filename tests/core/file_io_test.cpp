// Whole-file reads and atomic writes: size limits, special files refused before reading, and a
// write that replaces the old contents in one step.
#include "core/file_io.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "support/test_support.h"

namespace keel {
namespace {

TEST(FileIo, WritesAtomicallyAndReadsBack) {
  testing::TempDir dir;
  const std::string path = dir.file("report.txt");
  ASSERT_TRUE(write_file_atomically(path, "first").ok());
  ASSERT_TRUE(write_file_atomically(path, "second, longer").ok());
  auto text = read_file(path);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "second, longer");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp")) << "no temporary file is left behind";
  EXPECT_EQ(write_file_atomically(dir.file("no/such/folder/x"), "x").code(), StatusCode::not_found);
}

TEST(FileIo, RefusesWhatItShouldNotRead) {
  testing::TempDir dir;
  EXPECT_EQ(read_file(dir.file("missing")).status().code(), StatusCode::not_found);
  testing::write_file(dir.file("big"), std::string(2048, 'x'));
  auto big = read_file(dir.file("big"), 1024);
  EXPECT_EQ(big.status().code(), StatusCode::invalid_argument);
  EXPECT_NE(big.status().message().find("more than the 1024 allowed"), std::string::npos);
  // A FIFO would block forever and /dev/zero never ends: neither is read.
  ASSERT_EQ(mkfifo(dir.file("fifo").c_str(), 0600), 0);
  EXPECT_EQ(read_file(dir.file("fifo")).status().code(), StatusCode::invalid_argument);
  EXPECT_EQ(read_file("/dev/zero").status().code(), StatusCode::invalid_argument);
  EXPECT_EQ(read_file(dir.path()).status().code(), StatusCode::invalid_argument);
}

}  // namespace
}  // namespace keel
