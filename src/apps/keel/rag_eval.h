// keel eval enterprise-rag: the question set asked as each tenant under each arrangement of the
// policy layers, on a PostgreSQL cluster the command runs (rag/evaluation.h judges).
#pragma once

#include <string>

#include "apps/keel/rag_setup.h"

namespace keel::app {

struct RagEvalOptions {
  std::string spec, questions, pg_data;
  bool json = false;
  ComposerChoice composer;  //!< who writes the answers' text
};

//! Exit 0 when no arrangement with a policy layer on leaks, the control (both off) does (the
//! leak check works), and every bad token is refused; 2 otherwise; 1 when it cannot run.
int run_enterprise_rag_eval(const RagEvalOptions& o);

}  // namespace keel::app
