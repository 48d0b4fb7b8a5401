// keel run SPEC [--question Q] [--store PATH] [--json]: run a deployment as its plan says.
// local-research: guard, fit models, index the spec's folder, answer with verified citations.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "apps/keel/answer_output.h"
#include "apps/keel/commands.h"
#include "assistant/local_research_run.h"
#include "contract/spec_parser.h"
#include "core/json.h"

namespace keel::app {

void add_run_command(CLI::App& root, int& exit_code) {
  struct Options {
    std::string spec, question, store;
    int threads = 0;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = root.add_subcommand("run", "Run a deployment from its scenario spec, enforcing its plan");
  cmd->add_option("spec", o->spec, "scenario spec (YAML)")->required();
  cmd->add_option("--question,-q", o->question, "local-research: the question to answer");
  cmd->add_option("--store", o->store, "local-research: where to keep the index (default: ~/.cache/keel/<name>)");
  cmd->add_option("--threads,-t", o->threads, "compute threads (0: all cores)");
  cmd->add_flag("--json", o->json, "print the outcome as JSON");
  cmd->callback([o, &exit_code] {
    auto spec = contract::load_spec(o->spec);
    if (!spec.ok()) {
      std::fprintf(stderr, "keel run: %s\n", spec.status().message().c_str());
      exit_code = 1;
      return;
    }
    if (spec->scenario == contract::ScenarioId::llm_service || spec->scenario == contract::ScenarioId::durable_agent) {
      bool service = spec->scenario == contract::ScenarioId::llm_service;
      std::fprintf(stderr, "keel run: %s runs as `keel %s %s%s`\n", std::string(contract::enum_name(spec->scenario)).c_str(),
                   service ? "serve --spec" : "agent run", o->spec.c_str(), service ? "" : " --case <ID>");
      exit_code = 1;
      return;
    }
    if (spec->scenario != contract::ScenarioId::local_research) {
      std::fprintf(stderr,
                   "keel run: the runtime for scenario %s is not built yet; `keel plan %s` shows its plan\n",
                   std::string(contract::enum_name(spec->scenario)).c_str(), o->spec.c_str());
      exit_code = 1;
      return;
    }
    if (o->question.empty()) {
      std::fprintf(stderr, "keel run: local-research needs --question\n");
      exit_code = 1;
      return;
    }
    assistant::LocalResearchRunOptions options;
    options.question = o->question;
    options.store_path = o->store;
    options.threads = o->threads;
    options.progress = [](const std::string& line) { std::fprintf(stderr, "keel run: %s\n", line.c_str()); };
    bool streamed = false;
    options.on_text = [&](std::string_view piece) {
      if (o->json) return;
      if (!streamed) std::printf("\nQ: %s\nA: ", o->question.c_str());
      streamed = true;
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    };
    auto run = assistant::run_local_research(*spec, options);
    if (!run.ok()) {
      std::fprintf(stderr, "keel run: %s\n", run.status().to_string().c_str());
      exit_code = run.status().code() == StatusCode::failed_precondition ? 2 : 1;
      return;
    }
    const auto& a = run->answer;
    if (o->json) {
      Json j = answer_json(a);
      j["spec"] = o->spec;
      j["store"] = run->store_path;
      j["egress_guarded"] = run->egress_guarded;
      j["model"] = {{"id", run->generate_model.chosen.id}, {"path", run->generate_model.chosen.path},
                    {"fell_back", run->generate_model.fell_back}};
      if (run->embed_model) {
        j["embed_model"] = {{"id", run->embed_model->chosen.id}, {"path", run->embed_model->chosen.path}};
      }
      std::printf("%s\n", dump_json(j, 2).c_str());
    } else {
      if (!streamed) std::printf("\nQ: %s\nA: ", o->question.c_str());
      if (a.declined) std::printf("%s%s", streamed ? "\n\n" : "", a.text.c_str());
      std::printf("\n%s", answer_footer(a).c_str());
      std::printf("Egress guard: %s\n", run->egress_guarded ? "installed (no Internet socket can be opened)" : "not required by the spec");
      std::printf("\n%s", tiny_model_notice().c_str());
    }
    exit_code = 0;
  });
}

}  // namespace keel::app
