// The egress allow-list for every connection Keel opens itself (a model endpoint, an outside MCP
// server, a telemetry collector): one process-wide policy, set from the spec's deployment.egress
// before anything connects, and checked by the one HTTP client (http_client.h) twice: the URL's
// host against the list before connecting, and every address the client is about to connect to
// against what that host resolves to (redirects are not followed and proxies are not used, so
// nothing gets around the list).
//
// Entries are "host", "host:port" or "*.suffix" (subdomains of suffix, not suffix itself),
// compared case-insensitively; a URL without a port has its scheme's (http 80, https 443).
//
// Contract: until restrict_egress() is called every destination is allowed (commands without a
// spec, and tests). After it, only the listed hosts are; an empty list allows none. The policy
// only tightens: a second call intersects nothing, it replaces the list (the apps call it once).
// Thread-safe.
#pragma once

#include <sys/socket.h>

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace keel {

//! Whether an allow-list covers a URL or "host[:port]".
bool egress_list_allows(const std::vector<std::string>& allow, std::string_view url_or_host);

void restrict_egress(std::vector<std::string> allow);
bool egress_restricted();

//! Ok when the policy lets this URL's host be contacted; permission_denied naming the host and
//! the list otherwise.
[[nodiscard]] Status check_egress(std::string_view url);

//! Whether the client may connect to `address` for `url`: the URL is allowed and the address is
//! one its host resolves to, on its port. Always true when the policy is not restricted.
bool egress_address_allowed(std::string_view url, const sockaddr* address, socklen_t length);

}  // namespace keel
