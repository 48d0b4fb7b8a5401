// The enterprise-rag example's warehouse: three tenants' orders, tickets and employees for
// 2026 and their policy documents (with role ACLs; one carries a prompt injection), generated in the database from a fixed formula (the same rows on every run), with
// row-level security forced on every table and a reader role bound by it.
//
// Contract: create_sample_warehouse() connects as the tables' owner (a superuser of a
// throwaway cluster), drops and recreates the tables, and (re)creates `reader_role`: LOGIN,
// NOBYPASSRLS, SELECT on orders and tickets, and on employees every column but salary. Each
// table's policy admits the rows whose tenant_id equals current_setting('keel.tenant');
// documents also need one of the row's roles among current_setting('keel.roles') (a JSON array).
// The reader role reads documents only through the view documents_readable: the same rule, and
// the restricted "salary:" lines masked unless the asker holds hr.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace keel::samples {

[[nodiscard]] Status create_sample_warehouse(const std::string& owner_conninfo,
                                             const std::string& reader_role = "keel_reader");
//! The sample's tenants, and the customers each has (a tenant's customers are its own).
std::vector<std::string> sample_tenants();
std::vector<std::string> sample_customers(const std::string& tenant);

}  // namespace keel::samples
