#include "core/egress_policy.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <mutex>

namespace keel {

namespace {

struct Destination {
  std::string host;  // lower case; IPv6 literals without brackets
  int port = 0;      // 0: any
};

// "https://user@Host.example:4317/v1" -> {host.example, 4317}; "h" -> {h, 0}; "http://h/" -> {h, 80}.
Destination destination_of(std::string_view url) {
  int default_port = 0;
  if (auto scheme = url.find("://"); scheme != std::string_view::npos) {
    std::string_view name = url.substr(0, scheme);
    default_port = name == "https" ? 443 : name == "http" ? 80 : 0;
    url.remove_prefix(scheme + 3);
  }
  url = url.substr(0, url.find_first_of("/?#"));
  if (auto at = url.rfind('@'); at != std::string_view::npos) url.remove_prefix(at + 1);
  std::string text(url);
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  Destination d;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    d.host = text.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    if (close != std::string::npos && close + 1 < text.size() && text[close + 1] == ':') port = text.substr(close + 2);
  } else {
    size_t colon = text.find(':');
    d.host = text.substr(0, colon);
    if (colon != std::string::npos) port = text.substr(colon + 1);
  }
  d.port = port.empty() ? default_port : std::atoi(port.c_str());
  return d;
}

bool entry_covers(const Destination& entry, const Destination& d) {
  if (entry.port != 0 && entry.port != d.port) return false;
  if (entry.host == d.host) return true;
  if (entry.host.size() > 2 && entry.host.rfind("*.", 0) == 0) {
    std::string_view suffix = std::string_view(entry.host).substr(1);
    return d.host.size() > suffix.size() && d.host.compare(d.host.size() - suffix.size(), suffix.size(), suffix) == 0;
  }
  return false;
}

std::mutex mutex;
bool restricted = false;
std::vector<std::string> allowed;

}  // namespace

bool egress_list_allows(const std::vector<std::string>& allow, std::string_view url_or_host) {
  Destination d = destination_of(url_or_host);
  return std::any_of(allow.begin(), allow.end(),
                     [&](const std::string& entry) { return entry_covers(destination_of(entry), d); });
}

void restrict_egress(std::vector<std::string> allow) {
  std::lock_guard<std::mutex> lock(mutex);
  restricted = true;
  allowed = std::move(allow);
}

bool egress_restricted() {
  std::lock_guard<std::mutex> lock(mutex);
  return restricted;
}

Status check_egress(std::string_view url) {
  std::lock_guard<std::mutex> lock(mutex);
  if (!restricted || egress_list_allows(allowed, url)) return Status();
  return Status::permission_denied(fmt::format(
      "egress: {} is not in the spec's allow-list ({}); add its host to deployment.egress.allow",
      destination_of(url).host, allowed.empty() ? std::string("empty") : fmt::format("{}", fmt::join(allowed, ", "))));
}

bool egress_address_allowed(std::string_view url, const sockaddr* address, socklen_t length) {
  if (!egress_restricted()) return true;
  if (!check_egress(url).ok()) return false;
  int port = 0;
  if (address->sa_family == AF_INET && length >= sizeof(sockaddr_in)) {
    port = ntohs(reinterpret_cast<const sockaddr_in*>(address)->sin_port);
  } else if (address->sa_family == AF_INET6 && length >= sizeof(sockaddr_in6)) {
    port = ntohs(reinterpret_cast<const sockaddr_in6*>(address)->sin6_port);
  } else {
    return false;  // only Internet addresses are ever dialled
  }
  const Destination d = destination_of(url);
  if (d.port != 0 && d.port != port) return false;
  addrinfo hints{};
  hints.ai_family = address->sa_family;
  addrinfo* found = nullptr;
  if (getaddrinfo(d.host.c_str(), nullptr, &hints, &found) != 0) return false;
  bool match = false;
  for (addrinfo* a = found; a && !match; a = a->ai_next) {
    if (a->ai_family == AF_INET && address->sa_family == AF_INET) {
      match = std::memcmp(&reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr,
                          &reinterpret_cast<const sockaddr_in*>(address)->sin_addr, sizeof(in_addr)) == 0;
    } else if (a->ai_family == AF_INET6 && address->sa_family == AF_INET6) {
      match = std::memcmp(&reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr,
                          &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, sizeof(in6_addr)) == 0;
    }
  }
  freeaddrinfo(found);
  return match;
}

}  // namespace keel
