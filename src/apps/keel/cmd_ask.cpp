// keel ask --store FILE --model M.gguf [--embed-model E.gguf] [--json] QUESTION
// Answers from the indexed documents with verified citations. The process runs under the
// egress guard: it cannot open an Internet socket.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "apps/keel/answer_output.h"
#include "apps/keel/commands.h"
#include "assistant/research_assistant.h"
#include "contract/network_namespace.h"

namespace keel::app {

void add_ask_command(CLI::App& root, int& exit_code) {
  struct Options {
    assistant::AssistantOptions assistant;
    std::string embed_model, question, mode = "hybrid", answer = "auto";
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = root.add_subcommand("ask", "Answer a question from indexed documents, with citations");
  cmd->add_option("--store", o->assistant.store_path, "document store built by keel index")->required();
  cmd->add_option("--model,-m", o->assistant.model_path, "generative GGUF model")->required();
  cmd->add_option("--embed-model", o->embed_model, "the embedding model the store was indexed with");
  cmd->add_option("--docs", o->assistant.docs_dir, "documents folder (default: the one the store records)");
  cmd->add_option("--k", o->assistant.k, "passages to retrieve")->check(CLI::Range(1, 20));
  cmd->add_option("--retrieval", o->mode, "hybrid | bm25 | vector")->check(CLI::IsMember({"hybrid", "bm25", "vector"}));
  cmd->add_option("--min-support", o->assistant.min_support, "decline below this share of the question covered");
  cmd->add_option("-n,--max-tokens", o->assistant.max_tokens, "longest answer in tokens");
  cmd->add_option("--threads,-t", o->assistant.threads, "compute threads (0: all cores)");
  cmd->add_option("--ctx", o->assistant.n_ctx, "context size in tokens");
  cmd->add_option("--answer", o->answer,
                  "auto: the model answers unless keel eval measured it below the quality floor, then sentences "
                  "are quoted; generate; extract")
      ->check(CLI::IsMember(answer_mode_names()))
      ->capture_default_str();
  cmd->add_option("question", o->question, "the question")->required();
  cmd->add_flag("--json", o->json, "print answer, citations, retrieved passages and metrics as JSON");
  cmd->callback([o, &exit_code] {
    // No byte leaves this process: its own network namespace (where permitted) and the egress
    // guard, before any model or document is opened.
    auto isolation = contract::isolate_for_egress_none();
    if (!isolation.ok()) {
      std::fprintf(stderr, "keel ask: %s\n", isolation.status().to_string().c_str());
      exit_code = 1;
      return;
    }
    if (!o->embed_model.empty()) o->assistant.embed_model = o->embed_model;
    o->assistant.answer_mode = parse_answer_mode(o->answer);
    o->assistant.mode = o->mode == "bm25" ? context::RetrievalMode::bm25
                        : o->mode == "vector" ? context::RetrievalMode::vector
                                              : context::RetrievalMode::hybrid;
    auto assistant = assistant::ResearchAssistant::open(o->assistant);
    if (!assistant.ok()) {
      std::fprintf(stderr, "keel ask: %s\n", assistant.status().to_string().c_str());
      exit_code = 1;
      return;
    }
    auto answer = (*assistant)->ask(o->question, [&](std::string_view piece) {
      if (!o->json) {
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
      }
    });
    if (!answer.ok()) {
      std::fprintf(stderr, "keel ask: %s\n", answer.status().to_string().c_str());
      exit_code = 1;
      return;
    }
    if (o->json) {
      Json j = answer_json(*answer);
      j["answer_mode"] = (*assistant)->answer_mode_reason();
      j["outbound"] = outbound_json(*isolation);
      std::printf("%s\n", dump_json(j, 2).c_str());
    } else {
      std::string text = answer_unstreamed_text(*answer);
      if (!text.empty()) std::printf("%s%s\n", answer->model_text.empty() ? "" : "\n\n", text.c_str());
      else std::printf("\n");
      std::printf("%s", answer_footer(*answer).c_str());
      std::printf("Answer mode: %s\n", (*assistant)->answer_mode_reason().c_str());
      if (is_bundled_tiny_model(o->assistant.model_path)) {
        std::printf("\n%s", tiny_model_notice(answer->extracted).c_str());
      }
    }
    exit_code = 0;
  });
}

}  // namespace keel::app
