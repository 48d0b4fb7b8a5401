// keel tokenize --model M [--json] [--no-special] [--parse-special] TEXT
// Prints token ids; works on vocabulary-only GGUF files too.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "apps/keel/commands.h"
#include "core/json.h"
#include "engine/gguf.h"
#include "engine/tokenizer.h"

namespace keel::app {

void add_tokenize_command(CLI::App& root, int& exit_code) {
  struct Options {
    std::string model, text;
    bool json = false, no_special = false, parse_special = false, pieces = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = root.add_subcommand("tokenize", "Turn text into token ids with a model's tokenizer");
  cmd->add_option("--model,-m", o->model, "GGUF file (a vocabulary-only file is enough)")->required();
  cmd->add_option("text", o->text, "text to tokenize")->required();
  cmd->add_flag("--json", o->json, "print {\"tokens\": [...]}");
  cmd->add_flag("--no-special", o->no_special, "do not add BOS/EOS (CLS/SEP)");
  cmd->add_flag("--parse-special", o->parse_special, "turn special-token texts into their ids");
  cmd->add_flag("--pieces", o->pieces, "also print each token's text");
  cmd->callback([o, &exit_code] {
    auto file = engine::GgufFile::open(o->model);
    if (!file.ok()) {
      std::fprintf(stderr, "keel tokenize: %s\n", file.status().to_string().c_str());
      exit_code = 1;
      return;
    }
    auto tokenizer = engine::Tokenizer::create(**file);
    if (!tokenizer.ok()) {
      std::fprintf(stderr, "keel tokenize: %s\n", tokenizer.status().to_string().c_str());
      exit_code = 1;
      return;
    }
    auto ids = (*tokenizer)->encode(o->text, !o->no_special, o->parse_special);
    if (o->json) {
      Json out = {{"tokens", ids}};
      if (o->pieces) {
        Json pieces = Json::array();
        for (auto id : ids) pieces.push_back((*tokenizer)->token_to_piece(id, true));
        out["pieces"] = pieces;
      }
      std::printf("%s\n", dump_json(out).c_str());
    } else {
      for (size_t i = 0; i < ids.size(); ++i) {
        if (o->pieces) {
          std::printf("%d\t%s\n", ids[i], (*tokenizer)->token_to_piece(ids[i], true).c_str());
        } else {
          std::printf(i ? " %d" : "%d", ids[i]);
        }
      }
      if (!o->pieces) std::printf("\n");
    }
    exit_code = 0;
  });
}

}  // namespace keel::app
