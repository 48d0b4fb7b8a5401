// Fuzz target: tokenizing arbitrary bytes (invalid UTF-8 included) with SPM, BPE and WordPiece
// vocabularies built here, with and without special-token parsing, then decoding.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/gguf_writer.h"
#include "engine/tokenizer.h"

using namespace keel::engine;

namespace {

std::unique_ptr<GgufFile> make(GgufWriter& w, std::vector<uint8_t>& storage) {
  storage = w.serialize();
  auto f = GgufFile::parse(storage);
  return f.ok() ? std::move(*f) : nullptr;
}

struct Vocabs {
  std::vector<uint8_t> spm_bytes, bpe_bytes, wpm_bytes;
  std::unique_ptr<GgufFile> spm_file, bpe_file, wpm_file;
  std::unique_ptr<Tokenizer> spm, bpe, wpm;

  Vocabs() {
    const std::string sp = "\xE2\x96\x81";
    {
      GgufWriter w;
      std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
      std::vector<int32_t> types = {2, 3, 3};
      for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        tokens.push_back(name);
        types.push_back(6);
      }
      for (const std::string& t : std::vector<std::string>{sp, sp + "a", "ab", "b", "a", sp + "ab", "<|special|>"}) {
        tokens.push_back(t);
        types.push_back(t == "<|special|>" ? 4 : 1);
      }
      w.set_string("tokenizer.ggml.model", "llama");
      w.set_strings("tokenizer.ggml.tokens", tokens);
      w.set_i32s("tokenizer.ggml.token_type", types);
      spm_file = make(w, spm_bytes);
      spm = std::move(Tokenizer::create(*spm_file).value());
    }
    {
      GgufWriter w;
      std::vector<std::string> tokens;
      for (int b = 0; b < 256; ++b) {
        bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        static int next = 256;
        uint32_t cp = printable ? b : next++;
        std::string s;
        if (cp < 0x80) {
          s += static_cast<char>(cp);
        } else {
          s += static_cast<char>(0xC0 | (cp >> 6));
          s += static_cast<char>(0x80 | (cp & 0x3F));
        }
        tokens.push_back(s);
      }
      tokens.push_back("\xC4\xA0t");  // "Ġt"
      tokens.push_back("he");
      tokens.push_back("<|endoftext|>");
      w.set_string("tokenizer.ggml.model", "gpt2");
      w.set_string("tokenizer.ggml.pre", "llama-bpe");
      w.set_strings("tokenizer.ggml.tokens", tokens);
      w.set_strings("tokenizer.ggml.merges", {"\xC4\xA0 t", "h e"});
      w.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(tokens.size() - 1));
      std::vector<int32_t> types(tokens.size(), 1);
      types.back() = 3;
      w.set_i32s("tokenizer.ggml.token_type", types);
      bpe_file = make(w, bpe_bytes);
      bpe = std::move(Tokenizer::create(*bpe_file).value());
    }
    {
      GgufWriter w;
      std::vector<std::string> tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", sp + "a", "b", sp + ".", sp + "ab"};
      w.set_string("tokenizer.ggml.model", "bert");
      w.set_strings("tokenizer.ggml.tokens", tokens);
      w.set_u32("tokenizer.ggml.unknown_token_id", 1);
      w.set_u32("tokenizer.ggml.bos_token_id", 2);
      w.set_u32("tokenizer.ggml.seperator_token_id", 3);
      wpm_file = make(w, wpm_bytes);
      wpm = std::move(Tokenizer::create(*wpm_file).value());
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Vocabs vocabs;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (Tokenizer* t : {vocabs.spm.get(), vocabs.bpe.get(), vocabs.wpm.get()}) {
    for (bool special : {false, true}) {
      auto ids = t->encode(text, special, special);
      (void)t->decode(ids, true, special);
      for (TokenId id : ids) (void)t->token_to_piece(id, special);
    }
  }
  return 0;
}
