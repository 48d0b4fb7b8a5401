// The `keel` command line: one file per subcommand, each registering itself on the root app.
// Subcommands hold no logic that belongs in a layer; they parse flags, call the layers and
// print. Each callback stores the process exit code in `exit_code`.
//
// Exit codes shared by all subcommands: 0 success, 1 bad input or failure to run (with a
// message on stderr), 2 a contract refused (plan checks failed, policy denied).
#pragma once

namespace CLI {
class App;
}

namespace keel::app {

void add_plan_command(CLI::App& root, int& exit_code);
void add_rag_command(CLI::App& root, int& exit_code);
//! `keel rag serve`, `ask` and `mcp`, registered on the `rag` subcommand.
void add_rag_serve(CLI::App& rag, int& exit_code);
void add_rag_ask(CLI::App& rag, int& exit_code);
void add_rag_mcp(CLI::App& rag, int& exit_code);
void add_generate_command(CLI::App& root, int& exit_code);
void add_tokenize_command(CLI::App& root, int& exit_code);
void add_embed_command(CLI::App& root, int& exit_code);
void add_quantize_command(CLI::App& root, int& exit_code);
void add_bench_command(CLI::App& root, int& exit_code);
void add_check_model_command(CLI::App& root, int& exit_code);
void add_index_command(CLI::App& root, int& exit_code);
void add_ask_command(CLI::App& root, int& exit_code);
void add_run_command(CLI::App& root, int& exit_code);
void add_eval_command(CLI::App& root, int& exit_code);
void add_serve_command(CLI::App& root, int& exit_code);
void add_keygen_command(CLI::App& root, int& exit_code);
void add_loadgen_command(CLI::App& root, int& exit_code);
void add_agent_command(CLI::App& root, int& exit_code);
//! `keel agent keygen`, registered on the `agent` subcommand.
void add_agent_keygen_command(CLI::App& agent, int& exit_code);
void add_mcp_command(CLI::App& root, int& exit_code);
void add_checks_command(CLI::App& root, int& exit_code);
void add_field_command(CLI::App& root, int& exit_code);
//! `keel field ask|consent|asks|metrics`, registered on the `field` subcommand.
void add_field_route_commands(CLI::App& field, int& exit_code);
void add_sync_command(CLI::App& root, int& exit_code);
void add_model_command(CLI::App& root, int& exit_code);
void add_web_command(CLI::App& root, int& exit_code);
void add_edge_command(CLI::App& root, int& exit_code);
void add_edge_update_command(CLI::App& edge, int& exit_code);
void add_version_command(CLI::App& root, int& exit_code);

}  // namespace keel::app
