// Runs a libFuzzer target without libFuzzer (for g++ builds and for ctest): every file given on
// the command line (or in the given folders) as an input, then a fixed number of deterministic
// random mutations of those inputs. With clang, build with -DKEEL_FUZZ=ON for real fuzzing.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  std::vector<std::vector<uint8_t>> corpus;
  int mutations = 2000;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--mutations=", 0) == 0) {
      mutations = std::atoi(arg.c_str() + 12);
      continue;
    }
    std::vector<std::filesystem::path> files;
    if (std::filesystem::is_directory(arg)) {
      for (const auto& e : std::filesystem::directory_iterator(arg)) files.push_back(e.path());
    } else {
      files.push_back(arg);
    }
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      corpus.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  }
  corpus.push_back({});
  for (const auto& input : corpus) LLVMFuzzerTestOneInput(input.data(), input.size());
  std::mt19937 rng(12345);
  for (int m = 0; m < mutations; ++m) {
    std::vector<uint8_t> input = corpus[rng() % corpus.size()];
    int edits = 1 + rng() % 8;
    for (int e = 0; e < edits; ++e) {
      switch (rng() % 4) {
        case 0:
          if (!input.empty()) input[rng() % input.size()] = static_cast<uint8_t>(rng());
          break;
        case 1:
          input.insert(input.begin() + (input.empty() ? 0 : rng() % input.size()), static_cast<uint8_t>(rng()));
          break;
        case 2:
          if (!input.empty()) input.erase(input.begin() + rng() % input.size());
          break;
        case 3:
          if (!input.empty()) input.resize(rng() % input.size());
          break;
      }
    }
    LLVMFuzzerTestOneInput(input.data(), input.size());
  }
  std::printf("ran %zu corpus inputs and %d mutations\n", corpus.size(), mutations);
  return 0;
}
