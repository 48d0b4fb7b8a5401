// keel embed --model E [--json] TEXT...: one L2-normalised vector per text (BERT-family GGUF),
// computed under the egress guard (no socket can be opened).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "apps/keel/commands.h"
#include "contract/network_namespace.h"
#include "core/clock.h"
#include "core/json.h"
#include "engine/context.h"
#include "engine/model.h"

namespace keel::app {

void add_embed_command(CLI::App& root, int& exit_code) {
  struct Options {
    std::string model;
    std::vector<std::string> texts;
    bool json = false;
    int threads = 0;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = root.add_subcommand("embed", "Embed texts with a BERT-family GGUF model");
  cmd->add_option("--model,-m", o->model, "embedding model (GGUF)")->required();
  cmd->add_option("texts", o->texts, "texts to embed")->required();
  cmd->add_option("--threads,-t", o->threads, "compute threads (0: all cores)");
  cmd->add_flag("--json", o->json, "print {\"embeddings\": [[...], ...], \"metrics\": ...}");
  cmd->callback([o, &exit_code] {
    auto fail = [&](const Status& s) {
      std::fprintf(stderr, "keel embed: %s\n", s.to_string().c_str());
      exit_code = 1;
    };
    // The texts may be private documents: nothing in this process may reach the network (its own
    // network namespace where permitted, and the egress guard), before the model is read.
    auto isolation = contract::isolate_for_egress_none();
    if (!isolation.ok()) return fail(isolation.status());
    auto model = engine::Model::load(o->model);
    if (!model.ok()) return fail(model.status());
    engine::ContextOptions copts;
    copts.n_threads = o->threads;
    copts.n_ctx = (*model)->config().n_ctx_train;
    auto context = engine::Context::create(**model, copts);
    if (!context.ok()) return fail(context.status());
    Json vectors = Json::array();
    int64_t start = monotonic_now_ns();
    int64_t tokens = 0;
    for (const auto& text : o->texts) {
      auto ids = (*model)->tokenizer().encode(text, true, false);
      if (static_cast<int64_t>(ids.size()) > (*context)->options().n_ctx) {
        ids.resize((*context)->options().n_ctx - 1);
        ids.push_back((*model)->tokenizer().vocab().sep());  // keep the closing [SEP]
      }
      tokens += static_cast<int64_t>(ids.size());
      auto v = (*context)->embed(ids);
      if (!v.ok()) return fail(v.status());
      vectors.push_back(*v);
      if (!o->json) {
        for (size_t i = 0; i < v->size(); ++i) std::printf(i ? " %.6f" : "%.6f", (*v)[i]);
        std::printf("\n");
      }
    }
    double seconds = (monotonic_now_ns() - start) / 1e9;
    if (o->json) {
      Json out = {{"model", o->model},
                  {"dimensions", (*model)->config().n_embd},
                  {"embeddings", vectors},
                  {"metrics",
                   {{"texts", o->texts.size()},
                    {"tokens", tokens},
                    {"seconds", seconds},
                    {"texts_per_s", seconds > 0 ? o->texts.size() / seconds : 0}}}};
      std::printf("%s\n", dump_json(out).c_str());
    }
    exit_code = 0;
  });
}

}  // namespace keel::app
